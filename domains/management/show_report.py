"""What `domain show` tells of a domain, for people and for --json alike: its state, each
name with its DNS lifecycle state and last check, its attributes and users."""

from datetime import datetime
from typing import Any

from domains.models import AttributeType, Domain, NameState
from domains.names import HostName, NameKind
from domains.selectors import domain_effective_attributes

# The latest DNS lifecycle moves `domain show` lists.
HISTORY_SHOWN = 10


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def names_details(domain: Domain) -> list[dict[str, Any]]:
    """Each name, the canonical one first, with where it stands in DNS housekeeping."""
    names = domain.names.select_related("dns_check").order_by("-is_canonical", "name")
    details = []
    for name in names:
        check = getattr(name, "dns_check", None)
        shown: dict[str, Any] = {
            "name": name.name,
            "kind": name.kind,
            "canonical": name.is_canonical,
        }
        # An IP literal's check is against the proxy addresses, a host name's in DNS.
        shown["state"] = check.state if check is not None else NameState.ACTIVE
        shown["state_changed_at"] = _when(check.state_changed_at) if check else None
        shown["exempt"] = bool(check and check.exempt)
        checked = check is not None and check.checked_at is not None
        shown["last_check"] = (
            {
                "checked_at": _when(check.checked_at),
                "verdict": check.verdict,
                "outcome": check.outcome,
                "reason": check.reason,
            }
            if checked
            else None
        )
        details.append(shown)
    return details


def names_lines(names: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, text) lines: each name, and under it its last DNS check."""
    lines = []
    for i, name in enumerate(names):
        shown = HostName(name["name"], name["kind"]).display
        text = name["name"] if shown == name["name"] else f"{name['name']} ({shown})"
        flags = name["kind"] + (", canonical" if name["canonical"] else "")
        label = "names" if i == 0 else ""
        state = name["state"]
        if name["state_changed_at"] and state != NameState.ACTIVE:
            state += f" since {name['state_changed_at']}"
        if name["exempt"]:
            state += ", exempt from DNS housekeeping"
        elif name["kind"] != NameKind.HOSTNAME and name["state"] == NameState.DISABLED:
            state += ": not one of the proxy addresses, not served"
        check = name["last_check"]
        if check is None:
            lines.append((label, f"{text} [{flags}] {state}, not checked yet"))
            continue
        lines.append((label, f"{text} [{flags}] {state}"))
        lines.append(
            ("", f"  checked {check['checked_at']}: {check['verdict']}, {check['reason']}")
        )
    return lines


def domain_details(domain: Domain) -> dict[str, Any]:
    """What `domain show` tells, for people and for --json alike."""
    names = names_details(domain)
    attributes = domain_effective_attributes(domain)
    return {
        "did": domain.did,
        "state": domain.state,
        "enabled": domain.enabled,
        "served": domain.is_served,
        "origin": domain.origin,
        "tenant": domain.tenant.name if domain.tenant_id else None,
        "canonical": next((n["name"] for n in names if n["canonical"]), None),
        "names": names,
        "attributes": [
            {
                "name": a.name,
                "value": a.value,
                "type": AttributeType(a.type).label,
                "source": a.source,
                # Default values are kept as rows but never shown to the proxy.
                "default": a.is_default,
            }
            for a in attributes.values()
        ],
        "subscribers": domain.subscribers.count(),
        "user_aliases": domain.user_aliases.count(),
        "dns_history": [
            {
                "at": _when(t.created_at),
                "name": t.name or None,
                "from": t.from_state,
                "to": t.to_state,
                "verdict": t.verdict,
                "reason": t.reason,
            }
            for t in domain.dns_transitions.order_by("-created_at", "-id")[:HISTORY_SHOWN]
        ],
    }


def history_lines(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The latest moves of the domain and its names through the DNS lifecycle."""
    return [
        (
            "dns history" if i == 0 else "",
            f"{move['at']} {move['name'] or 'the domain'}: {move['from']} -> {move['to']} "
            f"({move['verdict']})",
        )
        for i, move in enumerate(history)
    ]
