"""What `domain verify` and `domain restore` print: what DNS showed, and the exit code."""

from django.core.management.base import BaseCommand, CommandError

from domains.dns.observation import Observation, Outcome
from domains.dns.verification import Verification
from domains.models import Domain

# `domain verify` exit codes (points at us, does not, DNS did not answer) and messages.
VERIFY_EXIT = {Outcome.POSITIVE: 0, Outcome.NEGATIVE: 1, Outcome.NEUTRAL: 1, Outcome.UNKNOWN: 2}
VERIFY_MESSAGE = {
    Outcome.NEGATIVE: "does not point at us",
    Outcome.NEUTRAL: "only partly points at us",
    Outcome.UNKNOWN: "DNS did not answer; nothing was changed",
}


def observation_lines(seen: Observation) -> list[tuple[str, str]]:
    """What DNS showed, one (label, text) per line."""
    lines = [("verdict", f"{seen.sip.verdict}: {seen.reason}")]
    answers = [seen.sip.naptr, *seen.sip.srv] if seen.sip.naptr else list(seen.sip.srv)
    for answer in answers:
        records = "; ".join(answer.to_evidence().get("records", [])) or answer.error
        text = f"{answer.rdtype} {answer.name}: {answer.status}"
        lines.append(("seen", f"{text} {records}".rstrip()))
    for target in seen.sip.targets:
        where = f" [{', '.join(target.addresses)}]" if target.addresses else ""
        mine = "ours" if target.ours else "not ours"
        lines.append(("target", f"{target.name}:{target.port} {mine}: {target.reason}{where}"))
    if seen.ownership:
        lines.append(("ownership", f"{seen.ownership}: {seen.ownership_detail}"))
    lines.extend(("warning", warning) for warning in seen.sip.warnings)
    lines.append(("queries", str(seen.queries)))
    return lines


def verification_lines(domain: Domain, result: Verification) -> list[tuple[str, str]]:
    """What a check of one of serweb's domains did: its state move, note and attributes."""
    move = (
        f"{result.from_state} -> {result.to_state}"
        if result.from_state != result.to_state
        else result.to_state
    )
    lines = [("domain", f"{domain.did} ({result.name}), state {move}")]
    if result.note:
        lines.append(("note", result.note))
    for name in result.names:
        moved = (
            f"{name.from_state} -> {name.to_state}"
            if name.from_state != name.to_state
            else name.to_state
        )
        text = f"{name.name} {moved}: {name.observation.sip.verdict}"
        lines.append(("name", text + (f" ({name.note})" if name.note else "")))
    if result.attributes is not None:
        attributes = result.attributes
        shown = ", ".join(f"{k}={v}" for k, v in attributes.values.items())
        lines.append(("attributes", f"{attributes.status} {shown}".rstrip()))
        lines.extend(("problem", problem) for problem in attributes.problems)
    return lines


def write_check(
    command: BaseCommand, lines: list[tuple[str, str]], seen: Observation, outcome: Outcome
) -> None:
    """Print what a DNS check saw; exit 1 when it does not point at us, 2 on no answer."""
    lines = [*lines, *observation_lines(seen)]
    for label, text in lines:
        command.stdout.write(f"{label + ':':<12}{text}")
    if VERIFY_EXIT[outcome]:
        raise CommandError(
            f"{seen.name}: {VERIFY_MESSAGE[outcome]} ({seen.sip.verdict})",
            returncode=VERIFY_EXIT[outcome],
        )
