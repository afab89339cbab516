from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(
                fields=["username"],
                name="subscriber_username_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(
                condition=models.Q(("enabled", False)),
                fields=["domain", "username"],
                name="subscriber_disabled",
            ),
        ),
    ]
