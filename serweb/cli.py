"""The ``serweb`` console script: ``serweb X ...`` does what ``manage.py X ...`` does."""

import os
import sys


def run(argv: list[str]) -> None:
    """Run a management command; a bad configuration ends as one line, not a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serweb.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (reads the settings module now)
    except ImproperlyConfigured as exc:
        sys.exit(f"error: configuration: {exc}")
    execute_from_command_line(argv)


def main() -> None:
    run(["serweb", *sys.argv[1:]])
