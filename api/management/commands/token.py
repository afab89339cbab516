"""token: API tokens for automation (created, listed, revoked)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from api.models import ApiToken
from api.services import token_create, token_revoke
from serweb.commandbase import SubcommandCommand


class Command(SubcommandCommand):
    help = "Manage the API tokens automation uses (Authorization: Bearer KEY)."

    def add_subcommands(self, subcommands) -> None:
        create = self.subcommand(
            subcommands, "create", self.handle_create, "create a token; its key is shown once"
        )
        create.add_argument("user", metavar="USER", help="the account the token acts as")
        create.add_argument("--name", required=True, help="what the token is for")

        list_ = self.subcommand(subcommands, "list", self.handle_list, "list tokens (no keys)")
        list_.add_argument("user", metavar="USER", nargs="?")
        list_.add_argument("--all", action="store_true", help="revoked tokens too")
        list_.add_argument("--json", action="store_true", help="machine-readable output")

        revoke = self.subcommand(subcommands, "revoke", self.handle_revoke, "revoke a token")
        revoke.add_argument("prefix", metavar="PREFIX", help="the token's prefix (see list)")

    def handle_create(self, options: dict[str, Any]) -> None:
        user = _user(options["user"])
        _token, key = token_create(actor=None, user=user, name=options["name"])
        # The key alone on stdout, so a script can capture it; it is not shown again.
        self.stdout.write(key)
        self.stderr.write(f"token for {user.get_username()}: keep the key, it is shown once")

    def handle_list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("id")
        if options["user"]:
            tokens = tokens.filter(user=_user(options["user"]))
        if not options["all"]:
            tokens = tokens.active()
        rows = [
            {
                "prefix": t.prefix,
                "user": t.user.get_username(),
                "name": t.name,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in tokens
        ]
        if options["json"]:
            self.write_json(rows)
            return
        for row in rows:
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
            used = row["last_used_at"] or "never used"
            self.stdout.write(f"{row['prefix']}  {row['user']}  {row['name']}  {state}  {used}")

    def handle_revoke(self, options: dict[str, Any]) -> None:
        token = ApiToken.objects.filter(prefix=options["prefix"]).first()
        if token is None:
            raise CommandError(f"no token with prefix {options['prefix']}")
        token_revoke(actor=None, token=token)
        self.stdout.write(f"revoked token {token.prefix} ({token.name})")


def _user(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no account {username!r}")
    return user
