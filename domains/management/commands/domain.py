"""domain: create, inspect and change SIP domains, their names and attributes."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from domains.management.show_report import domain_details, history_lines, names_lines
from domains.models import DomainState
from domains.selectors import (
    DomainNotFound,
    domain_get_by_name,
    domain_list,
    tenant_get_by_name,
)
from domains.services import (
    DeletionSummary,
    domain_attribute_set,
    domain_attribute_unset,
    domain_create,
    domain_delete,
    domain_deletion_summary,
    domain_disable,
    domain_enable,
    domain_make_canonical,
    domain_name_add,
    domain_name_remove,
    domain_set_tenant,
)
from serweb.commandbase import SubcommandCommand, parse_assignment, parse_assignments
from serweb.errors import error_fields, error_line
from serweb.text import plural


def describe_deletion(summary: DeletionSummary) -> str:
    return (
        f"names {', '.join(sorted(summary.names))}; {plural(summary.subscribers, 'subscriber')}; "
        f"{plural(summary.user_aliases, 'user alias', 'user aliases')}; "
        f"{plural(summary.attributes, 'attribute')}"
    )


@contextmanager
def realm_consent_hint() -> Iterator[None]:
    """Name the option that gives the consent a refused realm change asks for."""
    try:
        yield
    except ValidationError as exc:
        if "accept_password_reset" not in error_fields(exc):
            raise
        raise CommandError(f"{error_line(exc)} (--accept-password-reset)") from None


class Command(SubcommandCommand):
    help = "Manage SIP domains: their names, attributes, and whether the proxy serves them."
    option_names = {"aliases": "alias", "attributes": "attr"}

    def add_subcommands(self, subcommands) -> None:
        add = self.subcommand(subcommands, "add", self.handle_add, "create a domain")
        add.add_argument("name", help="the canonical name; also the did unless --did is given")
        add.add_argument(
            "--alias", action="append", default=[], metavar="NAME", help="another name (repeat)"
        )
        add.add_argument(
            "--attr", action="append", default=[], metavar="KEY=VALUE", help="an attribute (repeat)"
        )
        add.add_argument("--did", help="the domain id, if not the canonical name")
        add.add_argument("--disabled", action="store_true", help="create it switched off")

        rm = self.subcommand(subcommands, "rm", self.handle_rm, "delete a domain")
        rm.add_argument("name")
        rm.add_argument(
            "--force", action="store_true", help="delete its subscribers and user aliases too"
        )

        show = self.subcommand(subcommands, "show", self.handle_show, "show one domain")
        show.add_argument("name")
        show.add_argument("--json", action="store_true", help="machine-readable output")

        list_ = self.subcommand(subcommands, "list", self.handle_list, "list domains")
        list_.add_argument("--state", choices=DomainState.values)
        list_.add_argument("--json", action="store_true", help="machine-readable output")

        alias = subcommands.add_parser("alias", help="add or remove a name of a domain")
        alias_actions = alias.add_subparsers(dest="alias_action", metavar="ACTION", required=True)
        for action, handler, text in [
            ("add", self.handle_alias_add, "add a name (alias or IP literal) to a domain"),
            ("rm", self.handle_alias_rm, "remove a name from a domain"),
            (
                "exempt",
                self.handle_alias_exempt,
                "serve a host name whatever DNS says (DNS housekeeping leaves it alone)",
            ),
            (
                "restore",
                self.handle_alias_restore,
                "bring back a host name DNS housekeeping removed: checked in DNS now, "
                "served again if it points at us",
            ),
        ]:
            parser = self.subcommand(alias_actions, action, handler, text)
            parser.add_argument("name", help="any name of the domain, or its did")
            parser.add_argument("alias", help=f"the name to {action}")
            if action == "exempt":
                parser.add_argument(
                    "--off", action="store_true", help="put the name back under housekeeping"
                )

        canonical = self.subcommand(
            subcommands, "canonical", self.handle_canonical, "make a name the canonical one"
        )
        canonical.add_argument("name", help="any name of the domain, or its did")
        canonical.add_argument("alias", help="the name to make canonical")

        attr = subcommands.add_parser("attr", help="set or unset a domain attribute")
        attr_actions = attr.add_subparsers(dest="attr_action", metavar="ACTION", required=True)
        attr_set = self.subcommand(attr_actions, "set", self.handle_attr_set, "set an attribute")
        attr_set.add_argument("name")
        attr_set.add_argument("assignment", metavar="KEY=VALUE")
        attr_set.add_argument(
            "--int", action="store_true", help="an integer attribute serweb does not know"
        )
        attr_unset = self.subcommand(
            attr_actions, "unset", self.handle_attr_unset, "remove an attribute"
        )
        attr_unset.add_argument("name")
        attr_unset.add_argument("key", metavar="KEY")
        for parser in (attr_set, attr_unset):
            parser.add_argument(
                "--accept-password-reset",
                action="store_true",
                help="go ahead with a realm change that leaves subscribers needing new passwords",
            )

        verify = self.subcommand(
            subcommands,
            "verify",
            self.handle_verify,
            "check a domain in DNS now and apply what it says (exit 0: points at us, "
            "1: does not, 2: DNS did not answer)",
        )
        verify.add_argument("name", help="any name of the domain; another name is only looked at")

        restore = self.subcommand(
            subcommands,
            "restore",
            self.handle_restore,
            "bring a removed domain back: checked in DNS now, active again if it points at "
            "us, else pending (exit codes as verify)",
        )
        restore.add_argument("name", help="any name of the domain, or its did")

        for action, handler, text in [
            ("enable", self.handle_enable, "let the proxy serve the domain"),
            ("disable", self.handle_disable, "stop serving the domain; nothing is deleted"),
        ]:
            parser = self.subcommand(subcommands, action, handler, text)
            parser.add_argument("name")

        tenant = self.subcommand(
            subcommands,
            "tenant",
            self.handle_tenant,
            "give a domain to a tenant, or to none; its history so far stays the old owner's",
        )
        tenant.add_argument("name", help="any name of the domain, or its did")
        owner = tenant.add_mutually_exclusive_group(required=True)
        owner.add_argument("tenant", nargs="?", help="the tenant's name, or its owner's login")
        owner.add_argument("--none", action="store_true", help="take it from its tenant")

    def handle_add(self, options: dict[str, Any]) -> None:
        domain = domain_create(
            actor=None,
            name=options["name"],
            aliases=options["alias"],
            attributes=parse_assignments(options["attr"]),
            did=options["did"],
            enabled=not options["disabled"],
        )
        names = ", ".join(
            domain.names.order_by("-is_canonical", "name").values_list("name", flat=True)
        )
        state = "" if domain.enabled else " (disabled)"
        self.stdout.write(f"created domain {domain.did}{state}: {names}")

    def handle_rm(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        try:
            summary = domain_delete(actor=None, domain=domain, force=options["force"])
        except ValidationError as exc:
            if "force" not in error_fields(exc):
                raise
            # Tell what --force would take with it.
            would_go = describe_deletion(domain_deletion_summary(domain))
            raise CommandError(f"{error_line(exc)} (--force deletes {would_go})") from None
        self.stdout.write(f"deleted domain {summary.did}: {describe_deletion(summary)}")

    def handle_show(self, options: dict[str, Any]) -> None:
        details = domain_details(domain_get_by_name(options["name"]))
        if options["json"]:
            self.write_json(details)
            return
        lines = [
            ("did", details["did"]),
            ("state", details["state"]),
            ("enabled", "yes" if details["enabled"] else "no"),
            ("served", "yes" if details["served"] else "no"),
            ("origin", details["origin"]),
            ("tenant", details["tenant"] or "-"),
            ("canonical", details["canonical"]),
        ]
        lines.extend(names_lines(details["names"]))
        if not details["attributes"]:
            lines.append(("attributes", "none"))
        for i, attribute in enumerate(details["attributes"]):
            note = f"{attribute['type']}, from {attribute['source']}"
            if attribute["default"]:
                note += ", the default: not sent to the proxy"
            lines.append(
                (
                    "attributes" if i == 0 else "",
                    f"{attribute['name']}={attribute['value']} [{note}]",
                )
            )
        lines.append(("subscribers", str(details["subscribers"])))
        lines.append(("user aliases", str(details["user_aliases"])))
        lines.extend(history_lines(details["dns_history"]))
        for label, value in lines:
            self.stdout.write(f"{label + ':' if label else '':<14}{value}")

    def handle_list(self, options: dict[str, Any]) -> None:
        rows = (
            {
                "did": domain.did,
                "state": domain.state,
                "enabled": domain.enabled,
                "canonical": next((n.name for n in domain.names.all() if n.is_canonical), None),
                "name_count": len(domain.names.all()),
            }
            for domain in domain_list(state=options["state"]).iterator(chunk_size=2000)
        )
        if options["json"]:
            self.write_json(list(rows))
            return
        for row in rows:
            enabled = "enabled" if row["enabled"] else "disabled"
            self.stdout.write(
                f"{row['did']} {row['state']} {enabled} {row['canonical']} "
                f"{plural(row['name_count'], 'name')}"
            )

    def handle_alias_add(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        added = domain_name_add(actor=None, domain=domain, name=options["alias"])
        self.stdout.write(f"added {added.name} to domain {domain.did}")

    def handle_alias_rm(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        promoted = domain_name_remove(actor=None, domain=domain, name=options["alias"])
        self.stdout.write(f"removed {options['alias']} from domain {domain.did}")
        if promoted is not None:
            self.stdout.write(f"{promoted.name} is now the canonical name")

    def handle_alias_exempt(self, options: dict[str, Any]) -> None:
        from domains.dns.name_controls import name_exempt_set

        domain = domain_get_by_name(options["name"])
        exempt = not options["off"]
        check = name_exempt_set(actor=None, domain=domain, name=options["alias"], exempt=exempt)
        name = check.name.name
        if exempt:
            self.stdout.write(
                f"{name} of domain {domain.did} is exempt from DNS housekeeping: "
                "served whatever DNS says"
            )
        else:
            self.stdout.write(f"{name} of domain {domain.did} is under DNS housekeeping again")

    def handle_alias_restore(self, options: dict[str, Any]) -> None:
        from domains.dns.name_controls import name_restore
        from domains.dns.verification import domain_verify
        from domains.management.verify_report import verification_lines, write_check

        domain = domain_get_by_name(options["name"])
        check = name_restore(actor=None, domain=domain, name=options["alias"])
        name = check.name.name
        # Restored means "back under housekeeping, not served yet": DNS decides, now.
        result = domain_verify(actor=None, domain=domain)
        moved = next((n for n in result.names if n.name == name), None)
        state = moved.to_state if moved is not None else check.state
        lines = [("restored", f"{name} of {domain.did}: removed -> {state}")]
        lines.extend(verification_lines(domain, result))
        seen = moved.observation if moved is not None else result.observation
        write_check(self, lines, seen, moved.outcome if moved is not None else result.outcome)

    def handle_canonical(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        canonical = domain_make_canonical(actor=None, domain=domain, name=options["alias"])
        self.stdout.write(f"{canonical.name} is the canonical name of domain {domain.did}")

    def handle_attr_set(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        key, value = parse_assignment(options["assignment"])
        with realm_consent_hint():
            attribute = domain_attribute_set(
                actor=None,
                domain=domain,
                name=key,
                value=value,
                # Known attributes have their own type; --int types the others.
                as_int=True if options["int"] else None,
                accept_password_reset=options["accept_password_reset"],
            )
        note = " (the default: not sent to the proxy)" if attribute.is_default else ""
        self.stdout.write(f"set {attribute.name}={attribute.value} on domain {domain.did}{note}")

    def handle_attr_unset(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        with realm_consent_hint():
            domain_attribute_unset(
                actor=None,
                domain=domain,
                name=options["key"],
                accept_password_reset=options["accept_password_reset"],
            )
        self.stdout.write(f"unset {options['key'].strip().lower()} on domain {domain.did}")

    def handle_enable(self, options: dict[str, Any]) -> None:
        domain = domain_enable(actor=None, domain=domain_get_by_name(options["name"]))
        # The operator's switch does not override the DNS lifecycle.
        note = "" if domain.is_served else f" (state {domain.state}: not served until active)"
        self.stdout.write(f"enabled domain {domain.did}{note}")

    def handle_disable(self, options: dict[str, Any]) -> None:
        domain = domain_disable(actor=None, domain=domain_get_by_name(options["name"]))
        self.stdout.write(f"disabled domain {domain.did}: the proxy no longer serves it")

    def handle_tenant(self, options: dict[str, Any]) -> None:
        domain = domain_get_by_name(options["name"])
        tenant = None if options["none"] else tenant_get_by_name(options["tenant"])
        domain = domain_set_tenant(actor=None, domain=domain, tenant=tenant)
        owner = f"tenant {tenant.name}" if tenant else "no tenant"
        self.stdout.write(f"domain {domain.did} belongs to {owner}")

    def handle_verify(self, options: dict[str, Any]) -> None:
        # DNS code (dnspython, asyncio) is loaded by the commands that ask DNS only.
        from domains.dns.policy import DnsPolicy
        from domains.dns.verification import domain_verify, name_check
        from domains.management.verify_report import verification_lines, write_check

        try:
            domain = domain_get_by_name(options["name"])
        except DomainNotFound:
            domain = None
        if domain is None:
            seen = name_check(name=options["name"])
            outcome = seen.outcome(DnsPolicy.from_settings())
            lines = [("name", f"{seen.name} (not a serweb domain: nothing recorded)")]
        else:
            result = domain_verify(actor=None, domain=domain)
            seen, outcome = result.observation, result.outcome
            lines = verification_lines(domain, result)
        write_check(self, lines, seen, outcome)

    def handle_restore(self, options: dict[str, Any]) -> None:
        from domains.dns.verification import domain_restore
        from domains.management.verify_report import verification_lines, write_check

        domain = domain_get_by_name(options["name"])
        # Removed means "kept for a while, restorable": the did, names, attributes and
        # subscribers are all still there; DNS decides whether it is served again.
        result = domain_restore(actor=None, domain=domain)
        lines = [("restored", f"{domain.did}: removed -> {result.to_state}")]
        lines.extend(verification_lines(domain, result))
        write_check(self, lines, result.observation, result.outcome)
