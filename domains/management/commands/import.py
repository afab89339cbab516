"""import: bulk provisioning of domains or subscribers from a CSV file."""

import dataclasses
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from serweb.commandbase import SubcommandCommand


class Command(SubcommandCommand):
    help = (
        "Import domains or subscribers from a CSV file (all rows or none), or restore a "
        "backup written by `export backup`."
    )

    def add_subcommands(self, subcommands) -> None:
        for what, handler in [
            ("domains", self.handle_domains),
            ("subscribers", self.handle_subscribers),
        ]:
            parser = self.subcommand(subcommands, what, handler, f"import {what} from a CSV file")
            parser.add_argument("file", metavar="FILE.csv")
        backup = self.subcommand(
            subcommands,
            "backup",
            self.handle_backup,
            "restore a backup written by `export backup` into a database without provisioning data",
        )
        backup.add_argument("file", metavar="FILE")

    def handle_domains(self, options: dict[str, Any]) -> None:
        # Imported here so the other commands load even where the importer is absent.
        from domains.bulk import import_domains_csv

        self.run_import(import_domains_csv, options["file"])

    def handle_subscribers(self, options: dict[str, Any]) -> None:
        from subscribers.bulk import import_subscribers_csv

        self.run_import(import_subscribers_csv, options["file"])

    def handle_backup(self, options: dict[str, Any]) -> None:
        from portability.cli import restore_backup

        restore_backup(self, options["file"])

    def run_import(self, importer: Callable[..., Any], path: str) -> None:
        from serweb.bulk import ImportRejected, counts_text

        try:
            # Fail on an unreadable file before the importer starts any work.
            with open(path, "rb"):
                pass
            summary = importer(actor=None, path=path)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 text ({exc.reason})") from None
        except ImportRejected as exc:
            for row_error in exc.errors:
                self.stderr.write(f"{path}:{row_error.line}: {row_error.message}")
            raise CommandError(
                f"{path}: {len(exc.errors)} row error(s); nothing imported"
            ) from None
        self.stdout.write(f"imported {counts_text(dataclasses.asdict(summary))}")
