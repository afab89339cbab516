"""Replayable answers of token creations kept the clear key; keep them without it."""

from django.db import migrations

TOKENS_PATH = "/api/v1/tokens/"


def forget_token_keys(apps, schema_editor):
    records = apps.get_model("api", "IdempotencyRecord").objects.filter(
        path__startswith=TOKENS_PATH, body__has_key="key"
    )
    for record in records.iterator():
        record.body = {**record.body, "key": None, "key_already_shown": True}
        record.save(update_fields=["body"])


class Migration(migrations.Migration):
    dependencies = [("api", "0002_jobs")]

    operations = [migrations.RunPython(forget_token_keys, migrations.RunPython.noop)]
