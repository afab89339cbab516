import json

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from domains.services import domain_attribute_set, domain_create
from subscribers import services
from subscribers.digest import ha1, ha1b
from subscribers.models import Subscriber, UserAlias
from tests.helpers import proxy_rows


@pytest.fixture
def example(db, alice):
    return domain_create(actor=alice, name="example.com", aliases=["sip.example.com"])


@pytest.fixture
def carol(example, alice):
    return services.subscriber_create(
        actor=alice,
        domain=example,
        username="carol",
        password="carol-secret",
        email="carol@example.com",
    )


def test_create_stores_both_hashes_keyed_by_the_did(carol):
    assert carol.ha1 == ha1("carol", "example.com", "carol-secret")
    assert carol.ha1b == ha1b("carol", "example.com", "example.com", "carol-secret")
    assert carol.password == ""  # clear passwords are kept only when configured
    assert proxy_rows("subscriber", "username, domain, password, ha1") == [
        ("carol", "example.com", "", carol.ha1)
    ]


def test_the_realm_attribute_is_the_hash_realm(example, alice):
    domain_attribute_set(actor=alice, domain=example, name="realm", value="voice.example.com")
    dave = services.subscriber_create(
        actor=alice, domain=example, username="dave", password="dave-secret"
    )
    assert dave.ha1 == ha1("dave", "voice.example.com", "dave-secret")
    assert dave.ha1_realm == "voice.example.com"


def test_clear_password_is_kept_only_when_asked_and_never_reaches_the_proxy(
    example, alice, settings
):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    dave = services.subscriber_create(
        actor=alice, domain=example, username="dave", password="dave-secret"
    )
    assert dave.password == "dave-secret"
    assert proxy_rows("subscriber", "password") == [("",)]


def test_a_new_subscriber_may_present_its_own_name(carol):
    assert proxy_rows("uri", "username, domain, uri_user") == [("carol", "example.com", "carol")]


def test_valid_from_identities(carol, alice):
    services.valid_from_add(actor=alice, subscriber=carol, from_user="+4930123")
    services.valid_from_add(actor=alice, subscriber=carol, from_user="sales")
    assert proxy_rows("uri", "uri_user") == [("+4930123",), ("carol",), ("sales",)]
    with pytest.raises(ValidationError, match="already present"):
        services.valid_from_add(actor=alice, subscriber=carol, from_user="sales")
    services.valid_from_remove(actor=alice, subscriber=carol, from_user="sales")
    assert proxy_rows("uri", "uri_user") == [("+4930123",), ("carol",)]
    with pytest.raises(ValidationError, match="no valid From user"):
        services.valid_from_remove(actor=alice, subscriber=carol, from_user="sales")


@pytest.mark.parametrize(
    ("username", "password", "email", "message"),
    [
        ("", "long-enough", "", "empty"),
        ("a b", "long-enough", "", "use letters"),
        ("x" * 65, "long-enough", "", "at most 64"),
        ("carol", "long-enough", "", "exists already"),
        ("dave", "short", "", "at least 8"),
        ("dave", "", "", "empty"),
        ("dave", "p" * 65, "", "at most 64"),
        ("dave", "long-enough", "not-an-address", "not an e-mail address"),
    ],
)
def test_bad_subscribers_are_refused(carol, alice, username, password, email, message):
    with pytest.raises(ValidationError) as excinfo:
        services.subscriber_create(
            actor=alice, domain=carol.domain, username=username, password=password, email=email
        )
    assert message in " ".join(excinfo.value.messages)
    assert Subscriber.objects.count() == 1


def test_set_password_rehashes(carol, alice):
    old = carol.ha1
    services.subscriber_set_password(actor=alice, subscriber=carol, password="new-secret-1")
    carol.refresh_from_db()
    assert carol.ha1 != old
    assert carol.ha1 == ha1("carol", "example.com", "new-secret-1")


def test_disabled_subscriber_disappears_from_the_proxy(carol, alice):
    services.subscriber_update(actor=alice, subscriber=carol, enabled=False)
    assert proxy_rows("subscriber", "username") == []
    assert proxy_rows("uri", "username") == []
    services.subscriber_update(actor=alice, subscriber=carol, enabled=True)
    assert proxy_rows("subscriber", "username") == [("carol",)]


def test_user_alias_leads_to_the_subscriber(carol, alice, example):
    services.user_alias_add(actor=alice, domain=example, username="4930123", subscriber=carol)
    assert proxy_rows("dbaliases", "alias_username, alias_domain, username, domain") == [
        ("4930123", "example.com", "carol", "example.com")
    ]
    with pytest.raises(ValidationError, match="a subscriber"):
        services.user_alias_add(actor=alice, domain=example, username="carol", subscriber=carol)
    with pytest.raises(ValidationError, match="is a user alias"):
        services.subscriber_create(
            actor=alice, domain=example, username="4930123", password="long-enough"
        )
    services.user_alias_remove(actor=alice, alias=UserAlias.objects.get())
    assert proxy_rows("dbaliases", "alias_username") == []


def test_delete_takes_valid_froms_and_aliases(carol, alice, example):
    services.user_alias_add(actor=alice, domain=example, username="100", subscriber=carol)
    services.subscriber_delete(actor=alice, subscriber=carol)
    assert proxy_rows("uri", "uri_user") == []
    assert proxy_rows("dbaliases", "alias_username") == []
    assert AuditEntry.objects.get(action="subscriber.delete").before["aliases"] == [
        "100@example.com"
    ]


def test_no_secret_in_the_audit_trail(carol, alice):
    services.subscriber_set_password(actor=alice, subscriber=carol, password="new-secret-1")
    carol.refresh_from_db()
    trail = json.dumps(list(AuditEntry.objects.values("before", "after", "object_repr")))
    for secret in ["carol-secret", "new-secret-1", carol.ha1, carol.ha1b]:
        assert secret not in trail


def test_subscriber_writes_reload_no_proxy(example, alice, django_capture_on_commit_callbacks):
    """auth_db, uri_db and alias_db read per request: these changes are live at commit."""
    from proxies.models import ReloadState

    def generation() -> int:
        return ReloadState.objects.get(pk=1).desired_generation

    before = generation()
    with django_capture_on_commit_callbacks() as callbacks:
        dave = services.subscriber_create(
            actor=alice, domain=example, username="dave", password="dave-secret"
        )
        services.subscriber_set_password(actor=alice, subscriber=dave, password="dave-secret-2")
        services.valid_from_add(actor=alice, subscriber=dave, from_user="+4930111")
        services.valid_from_remove(actor=alice, subscriber=dave, from_user="+4930111")
        alias = services.user_alias_add(
            actor=alice, domain=example, username="111", subscriber=dave
        )
        services.user_alias_remove(actor=alice, alias=alias)
        services.subscriber_delete(actor=alice, subscriber=dave)

    assert generation() == before
    assert callbacks == []
