"""Which of the records a domain must publish (domains.dns.publish) its latest DNS check did
not find, from the evidence the check stored: what was expected and what was found, for the
banner of a suspect domain and the mails to its tenant. Pure: evidence in, failures out."""

from dataclasses import dataclass
from typing import Any

from domains.dns.publish import Purpose, Record


@dataclass(frozen=True)
class Failure:
    record: Record
    # What the check found there instead: record data, or why there was nothing.
    found: str

    @property
    def expected(self) -> str:
        return f"{self.record.name} {self.record.rdtype} {self.record.rdata}"


def _srv_answers(evidence: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {answer.get("name", ""): answer for answer in evidence.get("srv") or []}


def _nothing(answer: dict[str, Any] | None) -> str:
    status = (answer or {}).get("status", "")
    if status == "nxdomain":
        return "nothing (the name does not exist)"
    if status == "nodata":
        return "nothing (no record of that type)"
    return "nothing"


def _srv_failure(record: Record, answer: dict[str, Any] | None) -> Failure | None:
    records = (answer or {}).get("records") or []
    wanted = f" {record.port} {record.target}"
    if any(text.endswith(wanted) for text in records):
        return None
    if not records:
        return Failure(record, _nothing(answer))
    return Failure(record, "only " + ", ".join(f"{text}." for text in records))


def failing_records(evidence: dict[str, Any], expected: list[Record]) -> list[Failure]:
    """The expected records the check behind ``evidence`` did not see as expected."""
    if not evidence:
        return []
    answers = _srv_answers(evidence)
    naptr = evidence.get("naptr") or {}
    failures: list[Failure] = []
    for record in expected:
        if record.purpose == Purpose.SIP:
            if naptr.get("status") == "nxdomain":
                failures.append(Failure(record, "nothing: the domain does not exist"))
            elif record.name in answers:
                failure = _srv_failure(record, answers[record.name])
                failures += [failure] if failure else []
        elif record.purpose == Purpose.OWNERSHIP:
            ownership = evidence.get("ownership") or {}
            if ownership.get("status") == "missing":
                failures.append(Failure(record, "another value, or none"))
    return failures
