"""Scheduling proxy reloads after committed changes."""


def schedule_reload() -> None:
    from domains.tasks import reload_proxies

    reload_proxies.delay()
