"""export: all provisioning data out of serweb, to be read back with `import backup`."""

from typing import Any

from serweb.commandbase import SubcommandCommand
from serweb.text import plural


class Command(SubcommandCommand):
    help = "Export provisioning data."

    def add_subcommands(self, subcommands) -> None:
        backup = self.subcommand(
            subcommands,
            "backup",
            self.handle_backup,
            "write every tenant, domain, subscriber and proxy to one JSON file (mode 0600), "
            "which `import backup FILE` restores",
        )
        backup.add_argument("file", metavar="FILE")
        backup.add_argument("--replace", action="store_true", help="replace an existing FILE")

    def handle_backup(self, options: dict[str, Any]) -> None:
        from portability.backup import SECRETS_NOTE, backup_export

        try:
            summary = backup_export(actor=None, path=options["file"], replace=options["replace"])
        except OSError as exc:
            from django.core.management.base import CommandError

            raise CommandError(f"cannot write {options['file']}: {exc.strerror or exc}") from None
        self.stdout.write(
            f"wrote {plural(summary.tenants, 'tenant')}, {plural(summary.domains, 'domain')}, "
            f"{plural(summary.subscribers, 'subscriber')} and "
            f"{plural(summary.proxies, 'proxy', 'proxies')} to {summary.path}"
        )
        self.stderr.write(f"note: {summary.path} has mode 0600: {SECRETS_NOTE}")
