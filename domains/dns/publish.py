"""What a tenant publishes in DNS for a domain: an SRV record per transport the proxies
offer and proxy host name (RFC 3263), the TXT record holding the ownership token, and,
optionally, RFC 1464 attributes. Shown as zone-file lines with absolute names, and as the
fields web DNS editors ask for, host names relative to the zone.

Pure: no DNS question and no ORM; the pages, the record checks (domains.dns.records) and
the mails to tenants read the same records from here.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domains.dns.policy import DnsPolicy

# RFC 3263 §4.1 and RFC 5630: TLS is offered as _sips._tcp.
SRV_SERVICES = {"udp": ("_sip", "_udp"), "tcp": ("_sip", "_tcp"), "tls": ("_sips", "_tcp")}
TRANSPORT_NAMES = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}
TTL = 3600
PRIORITY = 10
WEIGHT = 10


@dataclass(frozen=True)
class Transport:
    name: str  # udp, tcp or tls
    port: int

    @property
    def service(self) -> str:
        return SRV_SERVICES[self.name][0]

    @property
    def protocol(self) -> str:
        return SRV_SERVICES[self.name][1]

    @property
    def label(self) -> str:
        return f"{TRANSPORT_NAMES[self.name]} port {self.port}"


def parse_transports(items: Iterable[str]) -> tuple[Transport, ...]:
    """``udp:5060`` and the like (serweb/settings.py has checked their shape)."""
    found = []
    for item in items:
        name, _colon, port = item.strip().lower().partition(":")
        found.append(Transport(name, int(port)))
    return tuple(dict.fromkeys(found))


class Purpose(StrEnum):
    SIP = "sip"  # where SIP is served: SRV
    OWNERSHIP = "ownership"  # who owns the domain: the token
    ATTRIBUTES = "attributes"  # optional settings (RFC 1464)


@dataclass(frozen=True)
class Record:
    """One record to publish. ``name``: its owner, absolute, without the final dot."""

    purpose: str
    name: str
    rdtype: str
    ttl: int = TTL
    # SRV (RFC 2782)
    transport: str = ""
    service: str = ""
    protocol: str = ""
    priority: int = 0
    weight: int = 0
    port: int = 0
    target: str = ""
    # TXT: the value as DNS editors take it, without quotes
    text: str = ""
    optional: bool = False

    @property
    def rdata(self) -> str:
        """The record's data in zone-file syntax."""
        if self.rdtype == "SRV":
            return f"{self.priority} {self.weight} {self.port} {self.target}."
        # The values serweb hands out hold no quote, backslash or space.
        return f'"{self.text}"'

    @property
    def value(self) -> str:
        """What a DNS editor's single value field takes."""
        return self.rdata[:-1] if self.rdtype == "SRV" else self.text

    def zone_line(self) -> str:
        return f"{self.name}. {self.ttl} IN {self.rdtype} {self.rdata}"

    def host(self, zone: str) -> str:
        """The owner relative to ``zone`` ("@" for the apex), as most DNS editors want it."""
        return relative(self.name, zone)

    def srv_host(self, zone: str) -> str:
        """For editors with Service and Protocol fields: the rest of the owner's name."""
        owner = self.name.removeprefix(f"{self.service}.{self.protocol}.")
        return relative(owner, zone)

    def to_json(self) -> dict:
        return {
            "purpose": self.purpose,
            "name": self.name,
            "type": self.rdtype,
            "ttl": self.ttl,
            "data": self.rdata,
            "optional": self.optional,
        }


def relative(name: str, zone: str) -> str:
    if not zone or name == zone:
        return "@" if name == zone else name + "."
    if name.endswith("." + zone):
        return name[: -len(zone) - 1]
    return name + "."


def sip_records(
    name: str, *, hostnames: Iterable[str], transports: Iterable[Transport]
) -> list[Record]:
    """One SRV record per transport and proxy host name, all of equal standing."""
    return [
        Record(
            purpose=Purpose.SIP,
            name=f"{transport.service}.{transport.protocol}.{name}",
            rdtype="SRV",
            transport=transport.name,
            service=transport.service,
            protocol=transport.protocol,
            priority=PRIORITY,
            weight=WEIGHT,
            port=transport.port,
            target=hostname,
        )
        for transport in transports
        for hostname in sorted(hostnames)
    ]


def ownership_record(name: str, *, token: str, challenge_label: str) -> Record:
    return Record(
        purpose=Purpose.OWNERSHIP, name=f"{challenge_label}.{name}", rdtype="TXT", text=token
    )


def attribute_records(name: str, *, values: dict[str, str], config_label: str) -> list[Record]:
    """RFC 1464 records, one ``attribute=value`` per record (DNS.md), all optional."""
    return [
        Record(
            purpose=Purpose.ATTRIBUTES,
            name=f"{config_label}.{name}",
            rdtype="TXT",
            text=f"{key}={value}",
            optional=True,
        )
        for key, value in sorted(values.items())
    ]


def zone_snippet(name: str, records: Iterable[Record]) -> str:
    """The records as zone-file lines (absolute names); optional ones commented out."""
    records = list(records)
    lines = [f"; serweb: the DNS records of {name}"]
    lines += [record.zone_line() for record in records if not record.optional]
    optional = [record for record in records if record.optional]
    if optional:
        lines.append("; optional: attributes of the domain (RFC 1464); remove the ; to publish")
        lines += [f"; {record.zone_line()}" for record in optional]
    return "\n".join(lines) + "\n"


def domain_records(name: str, *, token: str | None, policy: DnsPolicy) -> list[Record]:
    """What ``name`` must publish to be served: its SRV records and, for a tenant's
    domain, the ownership token (kept published: housekeeping checks it again)."""
    records = sip_records(
        name, hostnames=policy.proxy_hostnames, transports=parse_transports(policy.transports)
    )
    if token is not None:
        records.append(ownership_record(name, token=token, challenge_label=policy.challenge_label))
    return records
