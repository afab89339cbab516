from django.apps import AppConfig


class PortabilityConfig(AppConfig):
    """Moving provisioning data in and out: adopting a Kamailio database, backups."""

    name = "portability"
    default_auto_field = "django.db.models.BigAutoField"
