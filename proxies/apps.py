from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "proxies"
    verbose_name = "proxies and reloads"

    def ready(self) -> None:
        from proxies import receivers

        receivers.connect_receivers()
