"""The DNS panel of a domain's page: for each record the latest check saw, what it had to
be next to what was found and which server said so; when the next check runs; the
transitions DNS verification made. Read from what the verification stored (the check's
evidence), nothing asked of DNS here."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from domains.dns.policy import DnsPolicy
from domains.dns.slots import CHECKED_STATES, next_check_at
from domains.models import Domain, DomainCheck, DomainTransition
from domains.names import NameKind

TRANSITIONS_SHOWN = 20
# RFC 3263: the SRV names looked up without NAPTR, by the transport they offer.
TRANSPORTS = {"_sips._tcp": "TLS", "_sip._tcp": "TCP", "_sip._udp": "UDP"}
STATUS_TEXT = {"nxdomain": "no such name (NXDOMAIN)", "nodata": "no record (NODATA)"}


@dataclass(frozen=True)
class RecordRow:
    record: str  # what kind of record, e.g. "SRV (UDP)"
    name: str
    expected: str
    found: list[str]
    # ok, wrong (found, not what it must be), missing, unknown (no answer), info
    verdict: str
    server: str = ""


@dataclass(frozen=True)
class DnsPanel:
    check: DomainCheck | None
    rows: list[RecordRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    attributes: dict[str, Any] | None = None
    authority: dict[str, Any] | None = None
    # Expected as the check saw it, or the current settings for an older check.
    hostnames: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    next_check_at: datetime | None = None
    never_checked_because: str = ""
    transitions: list[DomainTransition] = field(default_factory=list)


def _found(answer: dict[str, Any]) -> list[str]:
    if answer.get("records"):
        return list(answer["records"])
    if answer.get("status") == "unknown":
        return [f"no answer: {answer.get('error') or 'unknown'}"]
    return [STATUS_TEXT.get(answer.get("status", ""), answer.get("status", ""))]


def _answer_verdict(answer: dict[str, Any], *, present: str, absent: str) -> str:
    status = answer.get("status")
    if status == "unknown":
        return "unknown"
    return present if status == "answer" else absent


def _srv_rows(evidence: dict[str, Any], hostnames: list[str]) -> list[RecordRow]:
    matched = set(evidence.get("matched") or [])
    rows = []
    for answer in evidence.get("srv") or []:
        name = answer.get("name", "")
        transport = next((t for p, t in TRANSPORTS.items() if name.startswith(p + ".")), "")
        targets = [r.rsplit(" ", 1)[-1] for r in answer.get("records", [])]
        verdict = _answer_verdict(answer, present="ok", absent="missing")
        if verdict == "ok" and not all(t in matched for t in targets):
            verdict = "wrong"
        rows.append(
            RecordRow(
                f"SRV ({transport})" if transport else "SRV",
                name,
                "a target among our proxies: " + (", ".join(hostnames) or "none is configured"),
                _found(answer),
                verdict,
                answer.get("server", ""),
            )
        )
    return rows


def _target_rows(evidence: dict[str, Any], addresses: list[str]) -> list[RecordRow]:
    rows = []
    for target in evidence.get("targets") or []:
        found = list(target.get("addresses") or [])
        found += [f"an alias of {cname}" for cname in target.get("cnames") or []]
        if target.get("reason"):
            found.append(target["reason"])
        if target.get("ours"):
            verdict = "ok"
        elif target.get("usable"):
            verdict = "wrong"
        else:
            verdict = "unknown" if "no address" not in target.get("reason", "") else "missing"
        rows.append(
            RecordRow(
                "A/AAAA of the domain" if evidence.get("address_fallback") else "SRV target",
                f"{target.get('name')}:{target.get('port')}",
                "a proxy host name, or only proxy addresses: " + (", ".join(addresses) or "none"),
                found,
                verdict,
            )
        )
    return rows


def _txt_rows(evidence: dict[str, Any], domain_name: str, policy: DnsPolicy) -> list[RecordRow]:
    rows = []
    ownership = evidence.get("ownership")
    if ownership:
        status = ownership.get("status")
        rows.append(
            RecordRow(
                "TXT (ownership)",
                f"{policy.challenge_label}.{domain_name}",
                "the owner's token (a secret: never shown here)",
                [ownership.get("detail", "")],
                {"proven": "ok", "missing": "wrong"}.get(status, "unknown"),
            )
        )
    config = evidence.get("config")
    if config:
        rows.append(
            RecordRow(
                "TXT (attributes)",
                config.get("name", ""),
                "attribute=value strings, if the domain sets any (RFC 1464)",
                _found(config),
                _answer_verdict(config, present="ok", absent="info"),
                config.get("server", ""),
            )
        )
    return rows


def _naptr_row(evidence: dict[str, Any]) -> list[RecordRow]:
    naptr = evidence.get("naptr")
    if not naptr:
        return []
    return [
        RecordRow(
            "NAPTR",
            naptr.get("name", ""),
            "optional: SIP+D2U, SIP+D2T or SIPS+D2T records leading to SRV names",
            _found(naptr),
            "wrong"
            if naptr.get("status") == "nxdomain"
            else _answer_verdict(naptr, present="ok", absent="info"),
            naptr.get("server", ""),
        )
    ]


def _never_checked_because(domain: Domain, check: DomainCheck | None, canonical) -> str:
    if domain.state not in CHECKED_STATES:
        return "housekeeping does not check a removed domain"
    if check is not None and not check.managed:
        return "housekeeping does not manage this domain"
    if canonical is None or canonical.kind != NameKind.HOSTNAME:
        return "its canonical name is an IP literal, which DNS cannot verify"
    return ""


def dns_panel(domain: Domain, check: DomainCheck | None, canonical) -> DnsPanel:
    """``canonical``: the domain's canonical DomainName (what a check looks up)."""
    policy = DnsPolicy.from_settings()
    never = _never_checked_because(domain, check, canonical)
    evidence = check.evidence if check is not None and check.checked_at else {}
    expected = evidence.get("expected") or {}
    hostnames = expected.get("hostnames") or sorted(policy.proxy.hostnames)
    addresses = expected.get("addresses") or sorted(policy.proxy.addresses)
    name = evidence.get("domain") or (canonical.name if canonical else domain.did)
    return DnsPanel(
        check=check,
        rows=[
            *_naptr_row(evidence),
            *_srv_rows(evidence, hostnames),
            *_target_rows(evidence, addresses),
            *_txt_rows(evidence, name, policy),
        ],
        warnings=list(evidence.get("warnings") or []),
        attributes=evidence.get("attributes"),
        authority=evidence.get("authority"),
        hostnames=hostnames,
        addresses=addresses,
        next_check_at=None if never else next_check_at(domain.pk, timezone.now(), policy),
        never_checked_because=never,
        transitions=list(domain.dns_transitions.order_by("-created_at", "-id")[:TRANSITIONS_SHOWN]),
    )
