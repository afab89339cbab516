"""validfrom: the From user names a digest user may present (Kamailio's uri table)."""

from typing import Any

from serweb.commandbase import SubcommandCommand, subscriber_at
from subscribers.services import valid_from_add, valid_from_remove


class Command(SubcommandCommand):
    help = "Manage the From user names a subscriber may present after authenticating."

    def add_subcommands(self, subcommands) -> None:
        for action, handler, text in [
            ("add", self.handle_add, "let a subscriber present a From user name"),
            ("rm", self.handle_rm, "no longer let a subscriber present a From user name"),
        ]:
            parser = self.subcommand(subcommands, action, handler, text)
            parser.add_argument("address", metavar="USER@DOMAIN")
            parser.add_argument("from_user", metavar="FROM_USER")

        list_ = self.subcommand(
            subcommands, "list", self.handle_list, "list a subscriber's valid From user names"
        )
        list_.add_argument("address", metavar="USER@DOMAIN")
        list_.add_argument("--json", action="store_true", help="machine-readable output")

    def handle_add(self, options: dict[str, Any]) -> None:
        subscriber = subscriber_at(options["address"])
        entry = valid_from_add(actor=None, subscriber=subscriber, from_user=options["from_user"])
        self.stdout.write(f"{subscriber} may present From user {entry.from_user}")

    def handle_rm(self, options: dict[str, Any]) -> None:
        subscriber = subscriber_at(options["address"])
        valid_from_remove(actor=None, subscriber=subscriber, from_user=options["from_user"])
        self.stdout.write(f"{subscriber} may no longer present From user {options['from_user']}")

    def handle_list(self, options: dict[str, Any]) -> None:
        subscriber = subscriber_at(options["address"])
        from_users = list(subscriber.valid_froms.values_list("from_user", flat=True))
        if options["json"]:
            self.write_json({"user": str(subscriber), "valid_from": from_users})
            return
        for from_user in from_users:
            self.stdout.write(from_user)
