"""Tenant names are unique ignoring case in the database, not only in tenant_create: two
concurrent creations of "Acme" and "acme" cannot both pass the service's check."""

from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0005_htable_attributes"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="tenant",
            constraint=models.UniqueConstraint(
                Lower("name"), name="tenant_name_unique_ignoring_case"
            ),
        ),
    ]
