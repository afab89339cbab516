"""tenant: the customers who own domains, and their owners' logins."""

from typing import Any

from domains.selectors import (
    claims_waiting,
    tenant_domain_states,
    tenant_get_by_name,
    tenants_with_usage,
)
from domains.services import (
    tenant_create,
    tenant_set_active,
    tenant_set_password,
    tenant_update,
)
from domains.signup import tenant_invite
from serweb.commandbase import SubcommandCommand, add_password_options
from serweb.text import plural


class Command(SubcommandCommand):
    help = "Manage tenants: customers whose owner logs in to manage their own domains."
    option_names = {
        "owner_username": "owner",
        "domain_quota": "--domain-quota",
        "pending_claim_limit": "--pending-claim-limit",
    }

    def add_subcommands(self, subcommands) -> None:
        add = self.subcommand(subcommands, "add", self.handle_add, "create a tenant")
        add.add_argument("name", help="the tenant's name, e.g. the customer's company")
        add.add_argument("--owner", required=True, metavar="LOGIN", help="the owner's new login")
        add.add_argument("--email", default="", help="the owner's e-mail address")
        add_password_options(add, required=False)
        add.add_argument(
            "--invite",
            action="store_true",
            help="mail the owner a link to choose its password (needs --email and SERWEB_PUBLIC_URL)",
        )

        invite = self.subcommand(
            subcommands,
            "invite",
            self.handle_invite,
            "mail the owner a link to choose its password (SERWEB_PUBLIC_URL: the portal's address)",
        )
        invite.add_argument("name", help="the tenant's name or its owner's login")

        passwd = self.subcommand(
            subcommands, "passwd", self.handle_passwd, "set the owner's login password"
        )
        passwd.add_argument("name", help="the tenant's name or its owner's login")
        add_password_options(passwd, required=True)

        list_ = self.subcommand(subcommands, "list", self.handle_list, "list tenants")
        list_.add_argument("--json", action="store_true", help="machine-readable output")

        show = self.subcommand(subcommands, "show", self.handle_show, "show one tenant")
        show.add_argument("name", help="the tenant's name or its owner's login")
        show.add_argument("--json", action="store_true", help="machine-readable output")

        limits = self.subcommand(
            subcommands, "limits", self.handle_limits, "change what a tenant may hold"
        )
        limits.add_argument("name", help="the tenant's name or its owner's login")
        limits.add_argument(
            "--domain-quota",
            type=int,
            metavar="N",
            help="domains and claims waiting for DNS, together",
        )
        limits.add_argument(
            "--pending-claim-limit", type=int, metavar="N", help="claims waiting at once"
        )

        for action, handler, text in [
            ("disable", self.handle_disable, "stop the owner's logins and API tokens"),
            ("enable", self.handle_enable, "let the owner log in again"),
        ]:
            parser = self.subcommand(subcommands, action, handler, text)
            parser.add_argument("name", help="the tenant's name or its owner's login")
            parser.add_argument(
                "--domains",
                action="store_true",
                help=f"also {action} every domain of the tenant on the proxy",
            )

    def handle_add(self, options: dict[str, Any]) -> None:
        password = self.read_password(options)
        tenant = tenant_create(
            actor=None,
            name=options["name"],
            owner_username=options["owner"],
            email=options["email"],
            password=password,
        )
        if password is not None:
            login = "with a password"
        elif options["invite"]:
            login = "who chooses a password from the invitation"
        else:
            login = "no password yet (tenant passwd or tenant invite)"
        self.stdout.write(f"created tenant {tenant.name}: owner {tenant.owner.username}, {login}")
        if options["invite"]:
            self._invite(tenant)

    def handle_limits(self, options: dict[str, Any]) -> None:
        tenant = tenant_get_by_name(options["name"])
        changed = tenant_update(
            actor=None,
            tenant=tenant,
            name=tenant.name,
            email=tenant.owner.email,
            domain_quota=options["domain_quota"],
            pending_claim_limit=options["pending_claim_limit"],
        )
        self.stdout.write(
            f"tenant {changed.name} may hold {plural(changed.domain_quota, 'domain')} and "
            f"claims together, {plural(changed.pending_claim_limit, 'claim')} waiting at once"
        )

    def handle_invite(self, options: dict[str, Any]) -> None:
        self._invite(tenant_get_by_name(options["name"]))

    def _invite(self, tenant) -> None:
        sent_to = tenant_invite(actor=None, tenant=tenant)
        self.stdout.write(
            f"invited {tenant.owner.username}: a link to choose a password went to {sent_to}"
        )

    def handle_passwd(self, options: dict[str, Any]) -> None:
        tenant = tenant_get_by_name(options["name"])
        tenant_set_password(actor=None, tenant=tenant, password=self.read_password(options))
        self.stdout.write(f"set the password of {tenant.owner.username} ({tenant.name})")

    def handle_disable(self, options: dict[str, Any]) -> None:
        self._switch(options, active=False)

    def handle_enable(self, options: dict[str, Any]) -> None:
        self._switch(options, active=True)

    def _switch(self, options: dict[str, Any], *, active: bool) -> None:
        tenant = tenant_get_by_name(options["name"])
        changed = tenant_set_active(
            actor=None, tenant=tenant, active=active, domains=options["domains"]
        )
        word = "enabled" if active else "disabled"
        line = f"{word} tenant {tenant.name}: its owner {tenant.owner.username} "
        line += "may log in" if active else "can no longer log in or use API tokens"
        if options["domains"]:
            line += f"; {word} {plural(len(changed), 'domain')}"
        self.stdout.write(line)

    def handle_list(self, options: dict[str, Any]) -> None:
        rows = [
            {
                "name": tenant.name,
                "owner": tenant.owner.username,
                "active": tenant.owner.is_active,
                "domains": tenant.domain_count,
                "pending_claims": tenant.claim_count,
            }
            for tenant in tenants_with_usage()
        ]
        if options["json"]:
            self.write_json(rows)
            return
        for row in rows:
            self.stdout.write(
                f"{row['name']}\towner {row['owner']}\t"
                f"{'active' if row['active'] else 'disabled'}\t"
                f"{plural(row['domains'], 'domain')}\t{plural(row['pending_claims'], 'claim')}"
            )

    def handle_show(self, options: dict[str, Any]) -> None:
        tenant = tenant_get_by_name(options["name"])
        owner = tenant.owner
        states = tenant_domain_states(tenant)
        claims = list(claims_waiting().filter(tenant=tenant).values_list("name", flat=True))
        data = {
            "name": tenant.name,
            "owner": owner.username,
            "email": owner.email,
            "active": owner.is_active,
            "can_log_in": owner.is_active and owner.has_usable_password(),
            "confirmed": tenant.confirmed_at is not None,
            "created_at": tenant.created_at.isoformat(),
            "domains": {state: count for state, (count, _off) in states.items() if count},
            "pending_claims": sorted(claims),
            "domain_quota": tenant.domain_quota,
            "pending_claim_limit": tenant.pending_claim_limit,
        }
        if options["json"]:
            self.write_json(data)
            return
        for key, value in data.items():
            if isinstance(value, dict):
                value = ", ".join(f"{state} {count}" for state, count in value.items()) or "none"
            elif isinstance(value, list):
                value = ", ".join(value) or "none"
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            self.stdout.write(f"{key.replace('_', ' ') + ':':<16}{value or '-'}")
