"""adopt: take over the provisioning data of an existing proxy's database."""

from typing import Any

from serweb.commandbase import SubcommandCommand


class Command(SubcommandCommand):
    help = "Adopt the provisioning data of an existing proxy."

    def add_subcommands(self, subcommands) -> None:
        kamailio = self.subcommand(
            subcommands,
            "kamailio",
            self.handle_kamailio,
            "adopt the domain, domain_attrs, subscriber, uri and dbaliases tables of a "
            "Kamailio 5.x database, and report every row that could not be mapped",
        )
        kamailio.add_argument(
            "url",
            metavar="DBURL",
            help="postgres://USER:PASSWORD@HOST/DB or mysql://USER:PASSWORD@HOST/DB "
            "(MySQL needs the mysql extra)",
        )
        kamailio.add_argument(
            "--dry-run", action="store_true", help="show the report; write nothing"
        )
        kamailio.add_argument("--json", action="store_true", help="the report as JSON")

    def handle_kamailio(self, options: dict[str, Any]) -> None:
        from portability.adoption import kamailio_adopt

        report = kamailio_adopt(actor=None, url=options["url"], dry_run=options["dry_run"])
        if options["json"]:
            self.write_json(report.as_dict())
            return
        for line in report.lines():
            self.stdout.write(line)
