"""One running housekeeping run per slot, enforced by the database: the run lock is the
insert of the run itself, so two workers cannot both start a slot. Runs left running
side by side before (the race this closes) are ended first, all but the newest."""

from django.db import migrations, models


def end_duplicate_running_runs(apps, schema_editor):
    runs = apps.get_model("domains", "HousekeepingRun")
    newest: set[tuple[int, int]] = set()
    for run in runs.objects.filter(status="running").order_by("-started_at", "-id"):
        if (run.slot, run.slots) in newest:
            runs.objects.filter(pk=run.pk).update(
                status="aborted", message="ended: another run of its slot ran at the same time"
            )
        newest.add((run.slot, run.slots))


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0006_tenant_name_unique_ignoring_case"),
    ]

    operations = [
        migrations.RunPython(end_duplicate_running_runs, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="housekeepingrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")),
                fields=("slot", "slots"),
                name="housekeepingrun_one_running_per_slot",
            ),
        ),
    ]
