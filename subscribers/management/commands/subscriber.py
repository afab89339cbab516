"""subscriber: the digest users of a domain. Hashes and passwords are never shown."""

from typing import Any

from domains.models import Domain
from domains.selectors import domain_get_by_name
from serweb.commandbase import (
    SubcommandCommand,
    add_password_options,
    resolve_address,
    subscriber_at,
)
from serweb.text import plural
from subscribers.models import Subscriber
from subscribers.services import subscriber_create, subscriber_delete, subscriber_set_password


def subscriber_rows(domain: Domain | None) -> list[dict[str, Any]]:
    # The hashes and the password are not even loaded.
    subscribers = (
        Subscriber.objects.select_related("domain")
        .only("username", "email", "enabled", "domain__did")
        .prefetch_related("valid_froms")
        .order_by("domain__did", "username")
    )
    if domain is not None:
        subscribers = subscribers.filter(domain=domain)
    return [
        {
            "user": f"{s.username}@{s.domain.did}",
            "username": s.username,
            "did": s.domain.did,
            "enabled": s.enabled,
            "email": s.email,
            "valid_from": [v.from_user for v in s.valid_froms.all()],
        }
        for s in subscribers.iterator(chunk_size=2000)
    ]


class Command(SubcommandCommand):
    help = "Manage the digest users (subscribers) of SIP domains."

    def add_subcommands(self, subcommands) -> None:
        add = self.subcommand(subcommands, "add", self.handle_add, "create a subscriber")
        add.add_argument("address", metavar="USER@DOMAIN")
        add_password_options(add, required=True)
        add.add_argument("--email", default="", metavar="E")

        passwd = self.subcommand(
            subcommands, "passwd", self.handle_passwd, "set a subscriber's password"
        )
        passwd.add_argument("address", metavar="USER@DOMAIN")
        add_password_options(passwd, required=True)

        rm = self.subcommand(
            subcommands, "rm", self.handle_rm, "delete a subscriber and the aliases leading to it"
        )
        rm.add_argument("address", metavar="USER@DOMAIN")

        list_ = self.subcommand(subcommands, "list", self.handle_list, "list subscribers")
        list_.add_argument("domain", nargs="?", metavar="DOMAIN")
        list_.add_argument("--json", action="store_true", help="machine-readable output")

    def handle_add(self, options: dict[str, Any]) -> None:
        username, domain = resolve_address(options["address"])
        subscriber = subscriber_create(
            actor=None,
            domain=domain,
            username=username,
            password=self.read_password(options),
            email=options["email"],
        )
        self.stdout.write(f"created subscriber {subscriber}")

    def handle_passwd(self, options: dict[str, Any]) -> None:
        subscriber = subscriber_at(options["address"])
        subscriber_set_password(
            actor=None, subscriber=subscriber, password=self.read_password(options)
        )
        self.stdout.write(f"changed the password of {subscriber}")

    def handle_rm(self, options: dict[str, Any]) -> None:
        subscriber = subscriber_at(options["address"])
        name, aliases = str(subscriber), subscriber.aliases.count()
        subscriber_delete(actor=None, subscriber=subscriber)
        self.stdout.write(
            f"deleted subscriber {name} with {plural(aliases, 'user alias', 'user aliases')}"
        )

    def handle_list(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["domain"]) if options["domain"] else None
        rows = subscriber_rows(domain)
        if options["json"]:
            self.write_json(rows)
            return
        for row in rows:
            enabled = "enabled" if row["enabled"] else "disabled"
            self.stdout.write(
                f"{row['user']} {enabled} {row['email'] or '-'} from={','.join(row['valid_from'])}"
            )
