"""A failed job's error is the API's error shape, keyed by field, not an exception's text.

Errors kept before were "ExceptionName: text", sometimes an internal exception's: they
are replaced by a note that says to run the job again."""

from django.db import migrations, models

EARLIER = {
    "detail": "this job failed before its errors were kept by field; start it again",
    "code": "error",
}


def errors_in_the_api_shape(apps, schema_editor):
    jobs = apps.get_model("api", "Job")
    jobs.objects.exclude(error_text="").update(error=EARLIER)


class Migration(migrations.Migration):
    dependencies = [("api", "0003_idempotency_records_without_token_keys")]

    operations = [
        migrations.RenameField(model_name="job", old_name="error", new_name="error_text"),
        migrations.AddField(
            model_name="job", name="error", field=models.JSONField(blank=True, null=True)
        ),
        migrations.RunPython(errors_in_the_api_shape, migrations.RunPython.noop),
        migrations.RemoveField(model_name="job", name="error_text"),
    ]
