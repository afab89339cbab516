from django.apps import AppConfig


class SerwebConfig(AppConfig):
    name = "serweb"
    verbose_name = "serweb"

    def ready(self) -> None:
        from serweb import checks  # noqa: F401  (registers the system checks)
