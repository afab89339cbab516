"""What the operator commands (domain, subscriber, proxy, ...) share.

Each top-level word is one management command whose subcommands are argparse
subparsers, each bound to one handler method. Writes run in the "cli" audit channel,
and bad input ends as one line on stderr with exit code 1, never as a traceback.
"""

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    SystemCheckError,
)
from django.db import OperationalError, ProgrammingError

from audit.services import audit_acting, audit_channel
from domains.models import Domain
from domains.names import split_address, validate_sip_user
from domains.selectors import domain_get_by_name
from domains.signals import domains_changed
from proxies.status import reload_waiting_note
from serweb.errors import error_line
from subscribers.models import Subscriber

Handler = Callable[[dict[str, Any]], None]


def system_login() -> str:
    """The operating-system login running this process (its uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` into its two halves; the value may itself contain '='."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"{text!r}: expected KEY=VALUE")
    return key.strip(), value


def parse_assignments(texts: Iterable[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for text in texts:
        key, value = parse_assignment(text)
        if key.lower() in pairs:
            raise CommandError(f"attribute {key.lower()} is given twice")
        pairs[key.lower()] = value
    return pairs


def resolve_address(address: str) -> tuple[str, Domain]:
    """USER@DOMAIN into the checked user part and the domain DOMAIN names."""
    try:
        user, host = split_address(address)
    except ValidationError:
        # A did chosen with `domain add --did` need not be a host name ("corp_1"), yet it
        # names its domain like any other name does.
        user_part, sep, did = (address or "").strip().rpartition("@")
        domain = Domain.objects.filter(did=did.strip().lower()).first() if sep else None
        if domain is None:
            raise
        return validate_sip_user(user_part), domain
    return user, domain_get_by_name(host.value)


def subscriber_at(address: str) -> Subscriber:
    username, domain = resolve_address(address)
    subscriber = (
        Subscriber.objects.select_related("domain").filter(domain=domain, username=username).first()
    )
    if subscriber is None:
        raise CommandError(f"no subscriber {username}@{domain.did}")
    return subscriber


def add_password_options(parser: CommandParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--password",
        metavar="P",
        help="the password (visible in the process list: prefer --password-stdin)",
    )
    group.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


class SubcommandCommand(BaseCommand):
    """A management command made of subcommands, one handler method each."""

    # call_command(..., stdin=StringIO(...)) feeds --password-stdin.
    stealth_options = ("stdin",)
    # The system checks import every URL and view (the API stack): a second of start-up
    # per command. `manage.py check`, migrate and the servers still run them.
    requires_system_checks: list[str] = []
    # A service argument → the option or argument that gives it, where their names differ.
    option_names: ClassVar[dict[str, str]] = {}

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        self.add_subcommands(subcommands)

    def add_subcommands(self, subcommands) -> None:
        raise NotImplementedError

    def subcommand(self, subcommands, name: str, handler: Handler, help: str) -> CommandParser:
        """A subparser whose parsed options go to ``handler``."""
        parser = subcommands.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        parser.add_argument(
            "--as",
            dest="acting_as",
            metavar="USER",
            help="record the change in the audit trail as this serweb operator "
            "(default: the system login running the command)",
        )
        return parser

    def acting(self, options: dict[str, Any]) -> dict[str, Any]:
        """Who the audit trail names for this command's writes."""
        username = options.get("acting_as")
        if username:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(username=username, is_staff=True).first()
            if user is None or not user.is_active:
                raise CommandError(f"--as: no active operator {username!r}")
            return {"user": user}
        return {"name": system_login()}

    def handle(self, *args: Any, handler: Handler, **options: Any) -> None:
        changes: list[object] = []

        def noticed(sender, **kwargs) -> None:
            changes.append(sender)

        domains_changed.connect(noticed, dispatch_uid="serweb.commandbase.changes")
        try:
            with audit_channel("cli"), audit_acting(**self.acting(options)):
                handler(options)
        except ValidationError as exc:
            raise CommandError(error_line(exc, fields=self.option_names), returncode=1) from None
        except ObjectDoesNotExist as exc:
            raise CommandError(str(exc), returncode=1) from None
        except (OperationalError, ProgrammingError) as exc:
            # Most often a database that was never migrated, or is not running.
            raise CommandError(
                f"the database: {' '.join(str(exc).split())} (is it running? "
                "`./manage.py migrate` creates the tables)",
                returncode=1,
            ) from None
        finally:
            domains_changed.disconnect(dispatch_uid="serweb.commandbase.changes")
        if changes:
            # The change is committed; say which proxies do not serve it yet.
            note = reload_waiting_note()
            if note:
                self.stderr.write(note)

    def run_from_argv(self, argv: list[str]) -> None:
        # Bytes that are not UTF-8 reach argv as lone surrogates; nothing downstream can
        # store or print them.
        for position, argument in enumerate(argv[2:], start=1):
            try:
                argument.encode("utf-8")
            except UnicodeEncodeError:
                self.stderr.write(f"error: argument {position} is not valid UTF-8")
                sys.exit(1)
        super().run_from_argv(argv)

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            # From a terminal, "error: ..." instead of Django's "CommandError: ...";
            # call_command callers get the exception, --traceback the full story.
            from_terminal = getattr(self, "_called_from_command_line", False)
            if not from_terminal or options.get("traceback") or isinstance(exc, SystemCheckError):
                raise
            self.stderr.write(f"error: {exc}")
            sys.exit(exc.returncode)

    def read_password(self, options: dict[str, Any]) -> str | None:
        """--password, or the first line of stdin for --password-stdin; None if neither."""
        if not options.get("password_stdin"):
            return options.get("password")
        stream = options.get("stdin") or sys.stdin
        try:
            line = stream.readline()
            # In the C locale, stdin decodes with surrogateescape instead of failing.
            line.encode("utf-8")
        except UnicodeError:
            raise CommandError("--password-stdin: standard input is not valid UTF-8") from None
        if not line:
            raise CommandError("--password-stdin: nothing on standard input")
        # Only the line ending goes: spaces may be part of a password.
        if line.endswith("\n"):
            line = line[:-1]
            if line.endswith("\r"):
                line = line[:-1]
        return line

    def write_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
