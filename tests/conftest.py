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
