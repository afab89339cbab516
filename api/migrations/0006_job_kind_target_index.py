from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0005_job_kinds_and_progress"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["kind", "target_id", "-id"], name="job_kind_target"),
        ),
    ]
