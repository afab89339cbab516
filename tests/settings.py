"""Settings for the test suite: production settings, with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "serweb-test-suite-key")

from serweb.settings import *  # noqa: E402, F403
