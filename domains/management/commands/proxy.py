"""proxy: the Kamailio instances serweb reloads, and the database login they read with."""

from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from domains.models import Proxy, ProxyTransport, ReloadState
from domains.proxy_access import PROXY_RELATIONS, proxy_role_grant
from domains.services import proxy_create, proxy_delete
from serweb.commandbase import SubcommandCommand, add_password_options

# The Kamailio modules that read serweb's relations, each with its own db_url.
PROXY_DB_MODULES = "domain|auth_db|uri_db|alias_db"


def proxy_named(name: str) -> Proxy:
    proxy = Proxy.objects.filter(name=(name or "").strip()).first()
    if proxy is None:
        raise CommandError(f"no proxy named {name!r}")
    return proxy


def desired_generation() -> int:
    state = ReloadState.objects.filter(pk=1).first()
    return state.desired_generation if state is not None else 0


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

    def handle_add(self, options: dict[str, Any]) -> None:
        transport = next(t for t in ProxyTransport.values if options[t] is not None)
        proxy = proxy_create(
            actor=None, name=options["name"], transport=transport, address=options[transport]
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
            schema = proxy_role_grant(role=role, password=password)
        except DatabaseError as exc:
            # Typically a login without CREATEROLE; the grant was rolled back whole.
            raise CommandError(
                f"the database refused: {str(exc).strip().splitlines()[0]}"
            ) from None
        self.stdout.write(
            f"role {role} may read {', '.join(PROXY_RELATIONS)} in schema {schema} "
            "(its search_path) and nothing else"
        )
        if password is None:
            self.stdout.write("its password was not changed")
        self.stdout.write(
            f'kamailio.cfg: modparam("{PROXY_DB_MODULES}", "db_url", "{kamailio_db_url(role)}")'
        )
