from django.apps import AppConfig


class SerwebConfig(AppConfig):
    name = "serweb"
    verbose_name = "serweb"
