"""proxy: the Kamailio instances serweb reloads, and the database login they read with."""

from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from proxies import drift, reload
from proxies.access import PROXY_RELATIONS, proxy_role_grant
from proxies.generation import desired_generation
from proxies.models import Proxy, ProxyTransport
from proxies.outcome import outcome_text
from proxies.services import proxy_create, proxy_delete
from proxies.status import ProxyStatus, proxy_status_list
from serweb.commandbase import SubcommandCommand, add_password_options

# The Kamailio modules that read serweb's relations, each with its own db_url.
PROXY_DB_MODULES = "domain|auth_db|uri_db|alias_db"


def proxy_named(name: str) -> Proxy:
    proxy = Proxy.objects.filter(name=(name or "").strip()).first()
    if proxy is None:
        raise CommandError(f"no proxy named {name!r}")
    return proxy


def kamailio_db_url(role: str) -> str:
    """The db_url a proxy logging in as ``role`` uses; the password stays a placeholder."""
    settings_dict = connection.settings_dict
    host = settings_dict.get("HOST") or ""
    # A socket directory means the database is local to this host.
    if not host or host.startswith("/"):
        host = "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{role}:PASSWORD@{host}{port}/{settings_dict['NAME']}"


class Command(SubcommandCommand):
    help = "Manage the proxies serweb reloads, and the database role they read with."

    def add_subcommands(self, subcommands) -> None:
        add = self.subcommand(subcommands, "add", self.handle_add, "add a proxy to reload")
        add.add_argument("name")
        address = add.add_mutually_exclusive_group(required=True)
        address.add_argument("--fifo", metavar="PATH", help="the jsonrpcs FIFO of a local proxy")
        address.add_argument("--udp", metavar="HOST:PORT", help="the jsonrpcs datagram socket")
        address.add_argument("--http", metavar="URL", help="the jsonrpcs HTTP endpoint")
        add.add_argument(
            "--sip",
            metavar="HOST:PORT",
            default="",
            help="where it answers SIP over UDP, to probe changed names after a reload",
        )

        list_ = self.subcommand(
            subcommands, "list", self.handle_list, "list proxies and their reload state"
        )
        list_.add_argument("--json", action="store_true", help="machine-readable output")

        rm = self.subcommand(subcommands, "rm", self.handle_rm, "stop reloading a proxy")
        rm.add_argument("name")

        grant = self.subcommand(
            subcommands,
            "grant",
            self.handle_grant,
            "create or update the PostgreSQL role a proxy reads the relations with",
        )
        grant.add_argument("role")
        add_password_options(grant, required=False)
        grant.add_argument(
            "--fix",
            action="store_true",
            help="revoke what an existing role can do beyond reading the relations "
            "(grants, memberships, attributes) instead of refusing it",
        )

        reload_ = self.subcommand(
            subcommands, "reload", self.handle_reload, "reload proxies now and wait for each"
        )
        reload_.add_argument("names", nargs="*", metavar="NAME", help="default: every enabled one")
        reload_.add_argument(
            "--pending",
            action="store_true",
            help="only proxies that have not loaded the latest change (for cron without a broker)",
        )

        status = self.subcommand(
            subcommands, "status", self.handle_status, "what each proxy serves and what still waits"
        )
        status.add_argument(
            "--check",
            action="store_true",
            help="first probe the proxies and reload any that is behind or holds stale data",
        )
        status.add_argument("--json", action="store_true", help="machine-readable output")

    def handle_add(self, options: dict[str, Any]) -> None:
        transport = next(t for t in ProxyTransport.values if options[t] is not None)
        proxy = proxy_create(
            actor=None,
            name=options["name"],
            transport=transport,
            address=options[transport],
            sip_address=options["sip"],
        )
        self.stdout.write(f"added proxy {proxy.name} ({proxy.transport} {proxy.address})")

    def handle_list(self, options: dict[str, Any]) -> None:
        desired = desired_generation()
        rows = [
            {
                "name": proxy.name,
                "transport": proxy.transport,
                "address": proxy.address,
                "enabled": proxy.enabled,
                "applied_generation": proxy.applied_generation,
                "desired_generation": desired,
                "last_reload_at": proxy.last_reload_at.isoformat()
                if proxy.last_reload_at
                else None,
                "last_error": proxy.last_error,
                "last_error_at": proxy.last_error_at.isoformat() if proxy.last_error_at else None,
            }
            for proxy in Proxy.objects.order_by("name")
        ]
        if options["json"]:
            self.write_json(rows)
            return
        for row in rows:
            enabled = "enabled" if row["enabled"] else "disabled"
            line = (
                f"{row['name']} {row['transport']} {row['address']} {enabled} "
                f"generation {row['applied_generation']}/{desired}"
            )
            if row["last_error"]:
                line += f" last error at {row['last_error_at']}: {row['last_error']}"
            self.stdout.write(line)

    def handle_rm(self, options: dict[str, Any]) -> None:
        proxy = proxy_named(options["name"])
        proxy_delete(actor=None, proxy=proxy)
        self.stdout.write(f"removed proxy {proxy.name}")

    def handle_grant(self, options: dict[str, Any]) -> None:
        role = options["role"]
        password = self.read_password(options)
        try:
            grant = proxy_role_grant(role=role, password=password, fix=options["fix"])
        except DatabaseError as exc:
            # Typically a login without CREATEROLE; the grant was rolled back whole.
            raise CommandError(
                f"the database refused: {str(exc).strip().splitlines()[0]}"
            ) from None
        for power in grant.revoked:
            self.stdout.write(f"revoked from role {role}: {power}")
        if grant.login_added:
            self.stdout.write(f"role {role} could not log in; now it can")
        self.stdout.write(
            f"role {role} may read {', '.join(PROXY_RELATIONS)} in schema {grant.schema} "
            "(its search_path) and nothing else"
        )
        if password is None:
            self.stdout.write("its password was not changed")
        self.stdout.write(
            f'kamailio.cfg: modparam("{PROXY_DB_MODULES}", "db_url", "{kamailio_db_url(role)}")'
        )

    def handle_reload(self, options: dict[str, Any]) -> None:
        if options["names"]:
            proxies = [proxy_named(name) for name in options["names"]]
        else:
            proxies = list(Proxy.objects.filter(enabled=True).order_by("name"))
        failed = []
        for proxy in proxies:
            if options["pending"] and not reload.proxy_is_behind(proxy.pk):
                continue
            outcome = reload.proxy_reload(proxy.pk, force=not options["pending"])
            self.stdout.write(f"{proxy.name}: {outcome_text(outcome)}")
            if not outcome.ok:
                failed.append(proxy.name)
        if failed:
            raise CommandError(f"not reloaded: {', '.join(failed)}", returncode=1)

    def handle_status(self, options: dict[str, Any]) -> None:
        if options["check"]:
            for report in drift.drift_check(reload_now=True):
                detail = f": {report.detail}" if report.detail else ""
                self.stdout.write(f"check {report.proxy}: {report.action}{detail}")
        statuses = proxy_status_list()
        if options["json"]:
            self.write_json([status.as_dict() for status in statuses])
            return
        for status in statuses:
            self.stdout.write(_status_text(status))


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value else "never"


def _status_text(status: ProxyStatus) -> str:
    line = (
        f"{status.name} ({status.transport} {status.address}): {status.state}, "
        f"generation {status.applied_generation} of {status.desired_generation}"
    )
    if status.pending_count:
        more = status.pending_count - len(status.pending_dids)
        line += f"; waiting: {', '.join(status.pending_dids)}" + (
            f" and {more} more" if more else ""
        )
    reload_time = (
        f" in {status.last_reload_seconds:.3f} s" if status.last_reload_seconds is not None else ""
    )
    line += (
        f"; last reload {_when(status.last_reload_at)}{reload_time}, {status.reload_count} in all"
    )
    if status.update_count:
        line += f" beside {status.update_count} incremental updates"
    if status.shm_total:
        line += f"; shared memory {status.shm_free / 1048576:.1f} of {status.shm_total / 1048576:.1f} MiB free"
    if status.last_error:
        line += f"; error at {_when(status.last_error_at)}: {status.last_error}"
    if status.next_retry_at:
        line += f"; next try {_when(status.next_retry_at)}"
    return line
