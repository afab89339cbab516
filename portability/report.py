"""What adopting a Kamailio did or would do: the counts, and every row left out with why."""

from dataclasses import asdict, dataclass, field

from serweb.text import plural


@dataclass(frozen=True)
class Unmapped:
    """A row left out, and why. ``row`` describes it without its secrets."""

    table: str
    id: int
    row: str
    reason: str


@dataclass
class AdoptionReport:
    source: str
    versions: dict[str, int]
    absent: list[str]
    dry_run: bool
    domains: int = 0
    names: int = 0
    attributes: int = 0
    subscribers: int = 0
    valid_froms: int = 0
    user_aliases: int = 0
    # Subscribers whose HA1/HA1b were empty and were computed from the clear password.
    hashes_computed: int = 0
    passwords_kept: int = 0
    passwords_dropped: int = 0
    unmapped: list[Unmapped] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        versions = ", ".join(f"{table} {version}" for table, version in self.versions.items())
        lines = [f"Kamailio database {self.source}: {versions}"]
        if self.absent:
            lines.append(f"  not there (no version row): {', '.join(self.absent)}")
        verb = "would adopt" if self.dry_run else "adopted"
        lines.append(
            f"{verb} {plural(self.domains, 'domain')} ({plural(self.names, 'name')}, "
            f"{plural(self.attributes, 'attribute')}), {plural(self.subscribers, 'subscriber')} "
            f"({plural(self.valid_froms, 'valid From identity', 'valid From identities')}, "
            f"{plural(self.user_aliases, 'user alias', 'user aliases')})"
        )
        if self.hashes_computed:
            lines.append(
                f"  {plural(self.hashes_computed, 'subscriber')} had no HA1: computed from the "
                "clear password"
            )
        if self.passwords_kept or self.passwords_dropped:
            kept = (
                f"kept {self.passwords_kept} (SERWEB_STORE_CLEAR_PASSWORDS is on)"
                if self.passwords_kept
                else f"left out {self.passwords_dropped} (SERWEB_STORE_CLEAR_PASSWORDS is off; "
                "the hashes are kept)"
            )
            lines.append(f"  clear passwords: {kept}")
        lines.append(f"not adopted: {plural(len(self.unmapped), 'row')}")
        for item in self.unmapped:
            lines.append(f"  {item.table} id {item.id} {item.row}: {item.reason}")
        return lines
