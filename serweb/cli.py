"""The ``serweb`` console script: ``serweb X ...`` does what ``manage.py X ...`` does."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serweb.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["serweb", *sys.argv[1:]])
