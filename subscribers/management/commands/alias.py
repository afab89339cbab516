"""alias: user names that lead to a subscriber, e.g. a phone number (Kamailio's dbaliases)."""

from typing import Any

from django.core.management.base import CommandError

from domains.selectors import domain_get_by_name
from serweb.commandbase import SubcommandCommand, resolve_address, subscriber_at
from subscribers.models import UserAlias
from subscribers.services import user_alias_add, user_alias_remove


class Command(SubcommandCommand):
    help = "Manage user aliases: ALIAS@DOMAIN leads to the subscriber USER@DOMAIN."

    def add_subcommands(self, subcommands) -> None:
        for action, handler, text in [
            ("add", self.handle_add, "let ALIAS@DOMAIN lead to a subscriber"),
            ("rm", self.handle_rm, "remove a user alias"),
        ]:
            parser = self.subcommand(subcommands, action, handler, text)
            parser.add_argument("alias", metavar="ALIAS@DOMAIN")
            parser.add_argument("address", metavar="USER@DOMAIN")

        list_ = self.subcommand(subcommands, "list", self.handle_list, "list user aliases")
        list_.add_argument(
            "domain", nargs="?", metavar="DOMAIN", help="only the aliases in this domain"
        )
        list_.add_argument("--json", action="store_true", help="machine-readable output")

    def handle_add(self, options: dict[str, Any]) -> None:
        username, domain = resolve_address(options["alias"])
        subscriber = subscriber_at(options["address"])
        alias = user_alias_add(actor=None, domain=domain, username=username, subscriber=subscriber)
        self.stdout.write(f"{alias} now leads to {subscriber}")

    def handle_rm(self, options: dict[str, Any]) -> None:
        username, domain = resolve_address(options["alias"])
        subscriber = subscriber_at(options["address"])
        alias = (
            UserAlias.objects.select_related("domain", "subscriber__domain")
            .filter(domain=domain, username=username)
            .first()
        )
        if alias is None:
            raise CommandError(f"no user alias {username}@{domain.did}")
        # Naming the target guards against removing an alias that was meant for another user.
        if alias.subscriber_id != subscriber.pk:
            raise CommandError(f"{alias} leads to {alias.subscriber}, not to {subscriber}")
        user_alias_remove(actor=None, alias=alias)
        self.stdout.write(f"removed user alias {alias}")

    def handle_list(self, options: dict[str, Any]) -> None:
        aliases = UserAlias.objects.select_related("domain", "subscriber__domain").order_by(
            "domain__did", "username"
        )
        if options["domain"]:
            aliases = aliases.filter(domain=domain_get_by_name(options["domain"]))
        rows = [
            {"alias": str(alias), "user": str(alias.subscriber)}
            for alias in aliases.iterator(chunk_size=2000)
        ]
        if options["json"]:
            self.write_json(rows)
            return
        for row in rows:
            self.stdout.write(f"{row['alias']} -> {row['user']}")
