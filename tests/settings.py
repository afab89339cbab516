"""Settings for the test suite: production settings, with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "serweb-test-suite-key")

from serweb.settings import *  # noqa: E402, F403

# Login passwords of test people need no key stretching.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
