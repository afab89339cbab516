"""Settings for the test suite: production settings, with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "serweb-test-suite-key")
# The test client and the live server speak plain HTTP (tests/test_security.py checks what
# a deployment gets).
os.environ.setdefault("SERWEB_HTTPS", "0")

from serweb.settings import *  # noqa: E402, F403

# Login passwords of test people need no key stretching.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No test asks a real resolver: DNS goes to a closed loopback port unless a test points it
# at the Knot test server (tests/dns_harness.py), or a process it starts sets these.
if not os.environ.get("SERWEB_DNS_NAMESERVERS"):
    SERWEB_DNS_NAMESERVERS = ["127.0.0.1:9"]
    SERWEB_DNS_TIMEOUT_MS = 100
    SERWEB_DNS_LIFETIME_MS = 200
