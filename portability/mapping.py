"""The mapping of Kamailio's stock tables onto serweb's records (portability/adoption.py
says how each table maps)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError

from domains.attributes import is_default_value, validate_attribute
from domains.models import AttributeType, Domain, DomainName, DomainOrigin, DomainState
from domains.names import HostName, normalize_did, normalize_host, validate_sip_user
from portability.checks import HASH, MAX_HASH_LENGTH, messages_of
from portability.kamailio import KamailioTables
from portability.records import (
    AliasRecord,
    AttributeRecord,
    Document,
    DomainRecord,
    NameRecord,
    SubscriberRecord,
    ValidFromRecord,
)
from portability.report import AdoptionReport, Unmapped
from subscribers import digest

CHUNK = 5000


@dataclass
class _Domain:
    did: str
    names: list[tuple[int, HostName]] = field(default_factory=list)
    adopted: bool = True
    why_not: str = ""
    realm: str = ""
    attributes: dict[str, tuple[int, AttributeRecord]] = field(default_factory=dict)


class Mapper:
    def __init__(self, tables: KamailioTables, report: AdoptionReport, now: datetime) -> None:
        self.tables = tables
        self.report = report
        self.now = now
        self.domains: dict[str, _Domain] = {}
        # Normalised name -> its did, for subscribers keyed by a name that is not a did.
        self.name_did: dict[str, str] = {}
        self.dids_lower: dict[str, str] = {}
        self.subscribers: dict[tuple[str, str], tuple[int, SubscriberRecord]] = {}

    def skip(self, table: str, row_id: int, row: str, reason: str) -> None:
        self.report.unmapped.append(Unmapped(table, row_id, row, reason))

    def run(self) -> Document:
        self._domains()
        self._attributes()
        self._subscribers()
        self._uris()
        self._aliases()
        return self._document()

    # domain ---------------------------------------------------------------------------

    def _domains(self) -> None:
        seen: dict[str, tuple[int, str]] = {}
        for row_id, raw_name, raw_did in self.tables.rows["domain"]:
            row = f"{raw_name!r} did {raw_did!r}" if raw_did is not None else f"{raw_name!r}"
            try:
                host = normalize_host(raw_name or "")
            except ValidationError as exc:
                self.skip("domain", row_id, row, f"not a domain name: {messages_of(exc)}")
                continue
            if host.value in seen:
                first_id, first_raw = seen[host.value]
                how = "differing only in case" if first_raw.lower() == raw_name.lower() else ""
                self.skip(
                    "domain",
                    row_id,
                    row,
                    f"duplicate of id {first_id} {first_raw!r}"
                    + (f", {how}" if how else f": both are {host.value}"),
                )
                continue
            did = raw_name if raw_did is None else raw_did
            problem = self._did_problem(did, raw_did is None)
            if problem:
                self.skip("domain", row_id, row, problem)
                continue
            seen[host.value] = (row_id, raw_name)
            self.domains.setdefault(did, _Domain(did=did)).names.append((row_id, host))
            self.name_did[host.value] = did
        self.dids_lower = {did.lower(): did for did in self.domains}
        self._against_serweb()

    @staticmethod
    def _did_problem(did: str, from_name: bool) -> str:
        if did == "":
            return "empty did (Kamailio fails to load the table with it)"
        try:
            clean = normalize_did(did)
        except ValidationError as exc:
            hint = " (an IPv6 literal needs an explicit did)" if from_name and ":" in did else ""
            return f"did {did!r} cannot be a serweb domain id{hint}: {messages_of(exc)}"
        if clean != did:
            return (
                f"did {did!r} would become {clean!r}: the did is the realm of its hashes and "
                "never changes"
            )
        return ""

    def _against_serweb(self) -> None:
        names = [host.value for d in self.domains.values() for _row, host in d.names]
        taken: dict[str, str] = {}
        for start in range(0, len(names), CHUNK):
            taken.update(
                DomainName.objects.filter(name__in=names[start : start + CHUNK]).values_list(
                    "name", "domain__did"
                )
            )
        dids = list(self.domains)
        existing: set[str] = set()
        for start in range(0, len(dids), CHUNK):
            existing.update(
                Domain.objects.filter(did__in=dids[start : start + CHUNK]).values_list(
                    "did", flat=True
                )
            )
        for did, domain in self.domains.items():
            clashes = [host.value for _row, host in domain.names if host.value in taken]
            if did in existing:
                domain.why_not = f"its did {did} is already in serweb"
            elif clashes:
                domain.why_not = (
                    f"its name {clashes[0]} is already in serweb (domain {taken[clashes[0]]})"
                )
            else:
                domain.realm = did
                continue
            domain.adopted = False
            for row_id, host in domain.names:
                if host.value in taken:
                    reason = f"already in serweb (domain {taken[host.value]})"
                elif did in existing:
                    reason = f"did {did} is already in serweb"
                else:
                    reason = f"not adopted with its did {did}: {domain.why_not}"
                self.skip("domain", row_id, repr(host.value), reason)

    def _domain_of(self, raw: str) -> tuple[_Domain | None, str]:
        """The domain a subscriber, uri or alias row names by its did, or why none."""
        did = raw if raw in self.domains else self.dids_lower.get((raw or "").lower())
        if did is None:
            try:
                name_did = self.name_did.get(normalize_host(raw or "").value)
            except ValidationError:
                name_did = None
            if name_did is not None:
                return None, (
                    f"keyed by {raw}, a name of domain {name_did} but not its did: the proxy "
                    "looks users up by did"
                )
            return None, f"its domain {raw!r} is not served (no domain row has that did)"
        domain = self.domains[did]
        if not domain.adopted:
            return None, f"its domain {did} is not adopted: {domain.why_not}"
        return domain, ""

    # domain_attrs -----------------------------------------------------------------------

    def _attributes(self) -> None:
        for row_id, did, name, kind, value in self.tables.rows.get("domain_attrs", []):
            row = f"did {did!r} {name}={value!r} type {kind}"
            domain = self.domains.get(did)
            if domain is None:
                self.skip("domain_attrs", row_id, row, f"no domain has did {did!r}")
                continue
            if not domain.adopted:
                self.skip("domain_attrs", row_id, row, f"domain {did} is not adopted")
                continue
            if kind not in (AttributeType.INTEGER, AttributeType.STRING):
                self.skip(
                    "domain_attrs",
                    row_id,
                    row,
                    f"unknown type {kind} (Kamailio knows 0, integer, and 2, string)",
                )
                continue
            reason, record = self._attribute(did, name, kind, value)
            if record is None:
                self.skip("domain_attrs", row_id, row, reason)
                continue
            if record.name in domain.attributes:
                first = domain.attributes[record.name][0]
                self.skip(
                    "domain_attrs",
                    row_id,
                    row,
                    f"a second value for {record.name}: serweb keeps one value per attribute "
                    f"(id {first} adopted)",
                )
                continue
            domain.attributes[record.name] = (row_id, record)
            if record.name == "realm":
                domain.realm = record.value

    def _attribute(self, did: str, name: str, kind: int, value: str):
        try:
            clean_name, clean_kind, clean_value = validate_attribute(
                name, value, as_int=kind == AttributeType.INTEGER
            )
        except ValidationError as exc:
            return messages_of(exc), None
        if clean_name != name:
            return f"the name would become {clean_name!r}", None
        same = (
            int(clean_value) == int(value)
            if clean_kind == AttributeType.INTEGER
            else clean_value == value
        )
        if not same:
            return f"serweb would store the value as {clean_value!r}", None
        return "", AttributeRecord(
            name=clean_name,
            type=clean_kind,
            value=clean_value,
            source="operator",
            is_default=is_default_value(clean_name, clean_value, did=did),
            updated_at=self.now,
        )

    # subscriber -------------------------------------------------------------------------

    def _subscribers(self) -> None:
        keep_passwords = settings.SERWEB_STORE_CLEAR_PASSWORDS
        for row_id, username, raw_domain, password, ha1, ha1b in self.tables.rows.get(
            "subscriber", []
        ):
            row = f"{username}@{raw_domain}"
            domain, reason = self._domain_of(raw_domain)
            if domain is None:
                self.skip("subscriber", row_id, row, reason)
                continue
            try:
                validate_sip_user(username)
            except ValidationError as exc:
                self.skip("subscriber", row_id, row, messages_of(exc))
                continue
            key = (domain.did, username)
            if key in self.subscribers:
                first = self.subscribers[key][0]
                self.skip(
                    "subscriber",
                    row_id,
                    row,
                    f"duplicate of id {first} ({username}@{domain.did}), its domain differing "
                    "only in case",
                )
                continue
            reason, hashes = self._hashes(username, domain, password or "", ha1 or "", ha1b or "")
            if hashes is None:
                self.skip("subscriber", row_id, row, reason)
                continue
            if password:
                if keep_passwords:
                    self.report.passwords_kept += 1
                else:
                    self.report.passwords_dropped += 1
            self.subscribers[key] = (
                row_id,
                SubscriberRecord(
                    domain=domain.did,
                    username=username,
                    ha1=hashes[0],
                    ha1b=hashes[1],
                    ha1_realm=domain.realm,
                    password=password if keep_passwords else "",
                    email="",
                    enabled=True,
                    created_at=self.now,
                    updated_at=self.now,
                    valid_from=[],
                    aliases=[],
                ),
            )

    def _hashes(self, username: str, domain: _Domain, password: str, ha1: str, ha1b: str):
        for column, value in (("ha1", ha1), ("ha1b", ha1b)):
            if len(value) > MAX_HASH_LENGTH or not HASH.match(value):
                return f"{column} is not a hexadecimal digest", None
        if not ha1 and not password:
            return "no credentials: ha1 and password are empty", None
        if not ha1 or not ha1b:
            if password:
                self.report.hashes_computed += 1
                ha1 = ha1 or digest.ha1(username, domain.realm, password)
                ha1b = ha1b or digest.ha1b(username, domain.did, domain.realm, password)
        return "", (ha1, ha1b)

    # uri, dbaliases ---------------------------------------------------------------------

    def _subscriber_of(self, username: str, raw_domain: str) -> tuple[SubscriberRecord | None, str]:
        domain, reason = self._domain_of(raw_domain)
        if domain is None:
            return None, reason
        found = self.subscribers.get((domain.did, username))
        if found is None:
            return None, f"no adopted subscriber {username}@{domain.did}"
        return found[1], ""

    def _uris(self) -> None:
        for row_id, username, raw_domain, uri_user in self.tables.rows.get("uri", []):
            row = f"{username}@{raw_domain} may use From {uri_user!r}"
            subscriber, reason = self._subscriber_of(username, raw_domain)
            if subscriber is None:
                self.skip("uri", row_id, row, reason)
                continue
            try:
                validate_sip_user(uri_user, what="From user name")
            except ValidationError as exc:
                self.skip("uri", row_id, row, messages_of(exc))
                continue
            if any(v.user == uri_user for v in subscriber.valid_from):
                self.skip("uri", row_id, row, "given twice, its domain differing only in case")
                continue
            subscriber.valid_from.append(ValidFromRecord(user=uri_user, created_at=self.now))

    def _aliases(self) -> None:
        taken: dict[tuple[str, str], int] = {}
        for row_id, alias_user, alias_domain, username, raw_domain in self.tables.rows.get(
            "dbaliases", []
        ):
            row = f"{alias_user}@{alias_domain} -> {username}@{raw_domain}"
            domain, reason = self._domain_of(alias_domain)
            subscriber = None
            if domain is not None:
                subscriber, reason = self._subscriber_of(username, raw_domain)
            if subscriber is None:
                self.skip("dbaliases", row_id, row, reason)
                continue
            try:
                validate_sip_user(alias_user, what="alias user name")
            except ValidationError as exc:
                self.skip("dbaliases", row_id, row, messages_of(exc))
                continue
            key = (domain.did, alias_user)
            if key in self.subscribers:
                self.skip(
                    "dbaliases",
                    row_id,
                    row,
                    f"{alias_user}@{domain.did} is also a subscriber: serweb does not let an "
                    "alias shadow a subscriber",
                )
                continue
            if key in taken:
                self.skip(
                    "dbaliases",
                    row_id,
                    row,
                    f"{alias_user}@{domain.did} leads elsewhere already (id {taken[key]} adopted)",
                )
                continue
            taken[key] = row_id
            subscriber.aliases.append(
                AliasRecord(domain=domain.did, username=alias_user, created_at=self.now)
            )

    # the result -------------------------------------------------------------------------

    def _document(self) -> Document:
        domains = []
        for did, domain in self.domains.items():
            if not domain.adopted:
                continue
            canonical = _canonical(did, [host for _row, host in domain.names])
            domains.append(
                DomainRecord(
                    did=did,
                    state=DomainState.ACTIVE,
                    enabled=True,
                    origin=DomainOrigin.OPERATOR,
                    tenant=None,
                    created_at=self.now,
                    updated_at=self.now,
                    state_changed_at=self.now,
                    names=[
                        NameRecord(host.value, host.kind, host.value == canonical, self.now)
                        for _row, host in domain.names
                    ],
                    attributes=[record for _row, record in domain.attributes.values()],
                    dns=None,
                )
            )
        subscribers = [record for _row, record in self.subscribers.values()]
        report = self.report
        report.domains = len(domains)
        report.names = sum(len(d.names) for d in domains)
        report.attributes = sum(len(d.attributes) for d in domains)
        report.subscribers = len(subscribers)
        report.valid_froms = sum(len(s.valid_from) for s in subscribers)
        report.user_aliases = sum(len(s.aliases) for s in subscribers)
        order = {"domain": 0, "domain_attrs": 1, "subscriber": 2, "uri": 3, "dbaliases": 4}
        report.unmapped.sort(key=lambda item: (order[item.table], item.id))
        return Document(domains=domains, subscribers=subscribers)


def _canonical(did: str, hosts: list[HostName]) -> str:
    """The did when it is one of the names; else the host name with the fewest labels."""
    by_name = {host.value for host in hosts}
    if did in by_name:
        return did
    return min(hosts, key=lambda h: (h.is_ip, h.value.count("."), len(h.value), h.value)).value
