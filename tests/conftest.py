import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from domains.models import Tenant
from tests.browser import browser, screenshots, visit  # noqa: F401  (the page tests' fixtures)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate budgets and cached answers of one test never reach the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db):
    """The operator."""
    return get_user_model().objects.create_user(
        "alice", "alice@operator.test", "alice-pass", is_staff=True
    )


@pytest.fixture
def bob(db):
    """A tenant with domains."""
    user = get_user_model().objects.create_user("bob", "bob@tenant.test", "bob-pass")
    Tenant.objects.create(name="bob-corp", owner=user)
    return user


@pytest.fixture
def charlie(db):
    """A tenant with nothing."""
    user = get_user_model().objects.create_user("charlie", "charlie@tenant.test", "charlie-pass")
    Tenant.objects.create(name="charlie-corp", owner=user)
    return user


# --- No secret in any log line of the whole suite -----------------------------------------
# Every secret the tests create (passwords as they are hashed, HA1 values, token keys) is
# noted as it is made; every log line any test causes is written as production writes it
# (JSON, with the request context); at the end of the run none may hold a noted secret.
SECRET_MIN_LENGTH = 8


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_the_logs(tmp_path_factory):
    import logging
    import secrets as secrets_module
    import sys

    from django.contrib.auth import hashers

    from serweb.logging import JsonFormatter, RequestContext
    from subscribers import digest

    noted: set[str] = set()

    def note(value) -> None:
        if isinstance(value, str) and len(value) >= SECRET_MIN_LENGTH:
            noted.add(value)

    def noting(function, *, arguments=()):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            note(result)
            for index in arguments:
                if index < len(args):
                    note(args[index])
            return result

        return wrapper

    patch = pytest.MonkeyPatch()
    patch.setattr(digest, "ha1", noting(digest.ha1, arguments=(2,)))
    patch.setattr(digest, "ha1b", noting(digest.ha1b, arguments=(3,)))
    patch.setattr(hashers, "make_password", noting(hashers.make_password, arguments=(0,)))
    # API token keys; other random strings (an upload's id in its address, a claim's
    # token meant for DNS) are no credentials of their own.
    token_urlsafe = secrets_module.token_urlsafe

    def token_noting(*args, **kwargs):
        value = token_urlsafe(*args, **kwargs)
        if sys._getframe(1).f_globals.get("__name__") == "api.services":
            note(value)
        return value

    patch.setattr(secrets_module, "token_urlsafe", token_noting)

    path = tmp_path_factory.mktemp("logs") / "suite.jsonl"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.addFilter(RequestContext())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield noted
    root.removeHandler(handler)
    handler.close()
    patch.undo()
    written = path.read_text(encoding="utf-8", errors="replace")
    found = sorted(secret for secret in noted if secret in written)
    assert found == [], f"{len(found)} secrets in the suite's log lines ({path})"
