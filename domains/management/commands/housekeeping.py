"""housekeeping: re-verify domains in DNS and apply the lifecycle, as the beat task does;
forget clear passwords no longer kept, drop expired claims and check the waiting ones
again, as other beat tasks do."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import audit_channel
from domains.dns.claims import claims_retry
from domains.dns.housekeeping import housekeeping_run
from domains.models import HousekeepingRun
from serweb.text import plural
from subscribers.services import subscriber_clear_passwords_forget


def queue_every_slot(slots: int | None) -> int:
    """One housekeeping task per slot for the workers to share; how many were queued."""
    # Celery loads here, when runs are queued, not at every command's start.
    from domains.dns.tasks import reverify_all

    return reverify_all(slots)


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Re-verify domains in DNS, every host name of each: the current slot of the "
        "schedule by default, every domain with --all, or every domain by the workers "
        "with --queue. Exits 1 when a "
        "canary or the circuit breaker stopped the run. Also forgets clear passwords kept "
        "while SERWEB_STORE_CLEAR_PASSWORDS was on, drops claims left unproven past their "
        "expiry and checks the waiting ones again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="every domain, in one run")
        which.add_argument("--slot", type=int, help="this slot of --slots (default: by time)")
        which.add_argument(
            "--queue",
            action="store_true",
            help="every domain: queue one run per slot of --slots for the workers",
        )
        parser.add_argument("--slots", type=int, help="how many slots the domains are spread on")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        slot, slots = options["slot"], options["slots"]
        if options["all"]:
            slot, slots = 0, 1
        if slots is not None and slots < 1:
            raise CommandError("--slots must be at least 1")
        if slot is not None and slots is None:
            raise CommandError("--slot needs --slots")
        with audit_channel("cli"):
            if options["queue"]:
                queued = queue_every_slot(slots)
            else:
                try:
                    run = housekeeping_run(slot=slot, slots=slots)
                except ValueError as exc:
                    raise CommandError(str(exc)) from None
            # What beat does with a broker; cron runs this command without one.
            forgotten = subscriber_clear_passwords_forget(actor=None)
            claims = claims_retry()
        if claims and not options["json"]:
            self.stdout.write(f"checked {claims} waiting claim(s) again")
        if forgotten and not options["json"]:
            self.stdout.write(
                f"forgot the clear passwords of {forgotten} subscriber(s), kept while "
                "SERWEB_STORE_CLEAR_PASSWORDS was on"
            )
        if options["queue"]:
            self.report_queued(queued, as_json=options["json"], forgotten=forgotten, claims=claims)
            return
        if run is None:
            raise CommandError("that slot is being run already", returncode=1)
        self.report(run, as_json=options["json"], forgotten=forgotten, claims=claims)
        if run.status != HousekeepingRun.Status.COMPLETED:
            raise CommandError(f"{run.get_status_display()}: {run.message}", returncode=1)

    def report_queued(
        self, queued: int, *, as_json: bool, forgotten: int = 0, claims: int = 0
    ) -> None:
        if as_json:
            data = {
                "queued": queued,
                "slots": queued,
                "clear_passwords_forgotten": forgotten,
                "claims_checked": claims,
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        # Without a broker the runs have taken place already, here, one after the other.
        self.stdout.write(
            f"queued {queued} housekeeping runs, one per slot of {queued}: "
            "every domain is re-verified by the workers"
        )

    def report(
        self, run: HousekeepingRun, *, as_json: bool, forgotten: int = 0, claims: int = 0
    ) -> None:
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
        if as_json:
            data = {
                "run": run.pk,
                "slot": run.slot,
                "slots": run.slots,
                "status": run.status,
                "checked": run.checked,
                "queries": run.queries,
                "seconds": round(seconds, 3),
                "message": run.message,
                **run.summary,
                "clear_passwords_forgotten": forgotten,
                "claims_checked": claims,
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        summary = run.summary
        # Every host name of a domain is checked: a run counts names.
        self.stdout.write(
            f"housekeeping run {run.pk}, slot {run.slot}/{run.slots}: {run.status}, "
            f"{plural(summary.get('domains', 0), 'domain')} checked "
            f"({plural(run.checked, 'name')}) "
            f"with {run.queries} queries"
        )
        for title, label in (
            ("verdicts", "verdicts of names"),
            ("outcomes", "outcomes of names"),
            ("transitions", "transitions"),
            ("name_transitions", "name transitions"),
            ("attributes", "attributes"),
        ):
            counts = summary.get(title) or {}
            if counts:
                shown = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
                self.stdout.write(f"  {label}: {shown}")
        alerts = summary.get("unknown_alerts") or []
        if alerts:
            self.stdout.write(f"  no answer for many checks in a row: {', '.join(alerts)}")
