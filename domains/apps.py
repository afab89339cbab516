from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "domains"
    verbose_name = "SIP domains"

    def ready(self) -> None:
        from domains import signals

        signals.connect_receivers()
