import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from domains import services
from domains.models import AttributeSource, Domain, DomainName
from domains.selectors import domain_get_by_name
from proxies.models import ReloadState
from subscribers.services import subscriber_create
from tests.helpers import proxy_rows


def generation() -> int:
    return ReloadState.objects.get(pk=1).desired_generation


@pytest.fixture
def example(db, alice):
    return services.domain_create(
        actor=alice, name="Example.com", aliases=["sip.example.com", "192.0.2.10"]
    )


def test_create_makes_the_canonical_name_the_did_and_every_name_a_proxy_row(example):
    assert example.did == "example.com"
    assert example.canonical_name == "example.com"
    assert proxy_rows("domain", "domain, did") == [
        ("192.0.2.10", "example.com"),
        ("example.com", "example.com"),
        ("sip.example.com", "example.com"),
    ]


def test_create_is_audited_with_the_actor(example, alice):
    entry = AuditEntry.objects.get(action="domain.create")
    assert entry.actor == alice
    assert entry.did == "example.com"
    assert entry.after["names"] == ["example.com", "192.0.2.10", "sip.example.com"]


def test_create_with_explicit_did(alice):
    domain = services.domain_create(actor=alice, name="voice.example.org", did="tenant-7")
    assert domain.did == "tenant-7"
    assert proxy_rows("domain", "domain, did") == [("voice.example.org", "tenant-7")]


@pytest.mark.parametrize(
    ("name", "aliases", "message"),
    [
        ("", [], "empty"),
        ("a" * 60 + ".example.com", [], "at most 64"),
        ("bad_label.example.com", [], "not a valid domain name"),
        ("new.example.net", ["sip.example.com"], "already belongs to domain example.com"),
        ("SIP.example.com", [], "already belongs to domain example.com"),
        # 192.0.2.10 written as an IPv4-mapped IPv6 address is the same name.
        ("new.example.net", ["::ffff:192.0.2.10"], "already belongs to domain example.com"),
        ("new.example.net", ["x.example.net", "X.example.net."], "given twice"),
        ("192.0.2.99", [], "IP address cannot be a domain's canonical name"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(example, alice, name, aliases, message):
    domains_before, names_before = Domain.objects.count(), DomainName.objects.count()
    generation_before = generation()
    with pytest.raises(ValidationError) as excinfo:
        services.domain_create(actor=alice, name=name, aliases=aliases)
    assert message in " ".join(excinfo.value.messages)
    assert (Domain.objects.count(), DomainName.objects.count()) == (domains_before, names_before)
    assert generation() == generation_before


def test_a_did_taken_by_another_domain_is_refused(alice):
    services.domain_create(actor=alice, name="old.example.com", aliases=["example.com"])
    first = domain_get_by_name("old.example.com")
    services.domain_make_canonical(actor=alice, domain=first, name="example.com")
    services.domain_name_remove(actor=alice, domain=first, name="old.example.com")
    with pytest.raises(ValidationError, match="domain id old.example.com is taken"):
        services.domain_create(actor=alice, name="old.example.com")


def test_alias_add_and_remove(example, alice):
    services.domain_name_add(actor=alice, domain=example, name="[2001:db8::1]")
    assert ("[2001:db8::1]", "example.com") in proxy_rows("domain", "domain, did")
    services.domain_name_remove(actor=alice, domain=example, name="2001:db8::1")
    assert ("[2001:db8::1]", "example.com") not in proxy_rows("domain", "domain, did")


def test_alias_of_another_domain_is_refused(example, alice):
    other = services.domain_create(actor=alice, name="example.net")
    with pytest.raises(ValidationError, match="already belongs to domain example.com"):
        services.domain_name_add(actor=alice, domain=other, name="sip.example.com")


def test_any_name_or_the_did_finds_the_domain(example):
    for name in ["example.com", "SIP.EXAMPLE.COM.", "192.0.2.10"]:
        assert domain_get_by_name(name) == example


def test_making_another_name_canonical_keeps_the_did(example, alice):
    services.domain_make_canonical(actor=alice, domain=example, name="sip.example.com")
    example.refresh_from_db()
    assert example.canonical_name == "sip.example.com"
    assert example.did == "example.com"
    assert DomainName.objects.filter(domain=example, is_canonical=True).count() == 1


def test_an_ip_literal_cannot_be_canonical(example, alice):
    with pytest.raises(ValidationError, match="IP address cannot be the canonical name"):
        services.domain_make_canonical(actor=alice, domain=example, name="192.0.2.10")


def test_removing_the_canonical_name_promotes_a_host_name(example, alice):
    promoted = services.domain_name_remove(actor=alice, domain=example, name="example.com")
    assert promoted.name == "sip.example.com"
    example.refresh_from_db()
    assert example.canonical_name == "sip.example.com"


def test_the_last_name_cannot_be_removed(alice):
    lonely = services.domain_create(actor=alice, name="lonely.example.com")
    with pytest.raises(ValidationError, match="only name"):
        services.domain_name_remove(actor=alice, domain=lonely, name="lonely.example.com")
    assert lonely.names.count() == 1


def test_attributes_differing_from_defaults_reach_the_proxy(example, alice):
    services.domain_attribute_set(actor=alice, domain=example, name="peering_policy", value="open")
    services.domain_attribute_set(actor=alice, domain=example, name="max_contacts", value="5")
    services.domain_attribute_set(
        actor=alice, domain=example, name="x_custom", value="42", as_int=True
    )
    # peering_policy=open is the default: stored, never shown to the proxy.
    assert proxy_rows("domain_attrs", "did, name, type, value") == [
        ("example.com", "max_contacts", 0, "5"),
        ("example.com", "x_custom", 0, "42"),
    ]


@pytest.mark.parametrize(
    ("name", "value", "as_int", "message"),
    [
        ("max_contacts", "many", None, "not an integer"),
        ("max_contacts", "5000", None, "between 0 and 1000"),
        ("peering_policy", "sometimes", None, "one of open, closed, listed"),
        ("realm", "192.0.2.1", None, "not an IP address"),
        ("x_counter", "12.5", True, "not an integer"),
        ("x_counter", "99999999999", True, "not an integer"),
        ("Bad-Name", "1", None, "attribute name"),
        ("x" * 33, "1", None, "attribute name"),
        ("note", "tab\there", None, "printable ASCII"),
        ("note", "v" * 256, None, "at most 255"),
        ("note", "", None, "empty"),
        ("max_contacts", "5", False, "is an integer attribute"),
        # The proxy's $avp(dom_did) is the did: no attribute may take its name.
        ("did", "victim.example", None, "reserved"),
        ("DID", "1", True, "reserved"),
    ],
)
def test_bad_attributes_are_refused(example, alice, name, value, as_int, message):
    with pytest.raises(ValidationError) as excinfo:
        services.domain_attribute_set(
            actor=alice, domain=example, name=name, value=value, as_int=as_int
        )
    assert message in " ".join(excinfo.value.messages)
    assert not example.attributes.exists()


def test_a_domain_with_a_reserved_attribute_is_not_created(alice):
    with pytest.raises(ValidationError, match="did is reserved"):
        services.domain_create(actor=alice, name="example.net", attributes={"did": "x.example"})
    assert not Domain.objects.exists()


def test_the_operator_value_wins_over_dns(example, alice):
    services.domain_attribute_set(
        actor=None,
        domain=example,
        name="peering_policy",
        value="closed",
        source=AttributeSource.DNS,
    )
    assert proxy_rows("domain_attrs", "name, value") == [("peering_policy", "closed")]
    # The operator sets the default: it overrides DNS, and the proxy sees no row at all.
    services.domain_attribute_set(actor=alice, domain=example, name="peering_policy", value="open")
    assert proxy_rows("domain_attrs", "name, value") == []
    services.domain_attribute_unset(actor=alice, domain=example, name="peering_policy")
    assert proxy_rows("domain_attrs", "name, value") == [("peering_policy", "closed")]


def test_setting_a_realm_needs_consent_when_it_strands_hashes(example, alice):
    subscriber = subscriber_create(
        actor=alice, domain=example, username="carol", password="carol-secret"
    )
    with pytest.raises(ValidationError, match="invalidates the stored passwords of 1"):
        services.domain_attribute_set(
            actor=alice, domain=example, name="realm", value="voice.example.com"
        )
    assert not example.attributes.exists()
    services.domain_attribute_set(
        actor=alice,
        domain=example,
        name="realm",
        value="voice.example.com",
        accept_password_reset=True,
    )
    subscriber.refresh_from_db()
    assert subscriber.ha1_realm == "example.com"  # needs a new password


def test_a_realm_change_rehashes_kept_passwords(example, alice, settings):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    subscriber = subscriber_create(
        actor=alice, domain=example, username="carol", password="carol-secret"
    )
    services.domain_attribute_set(
        actor=alice, domain=example, name="realm", value="voice.example.com"
    )
    subscriber.refresh_from_db()
    assert subscriber.ha1_realm == "voice.example.com"
    from subscribers.digest import ha1

    assert subscriber.ha1 == ha1("carol", "voice.example.com", "carol-secret")


def test_disable_hides_everything_from_the_proxy_and_enable_brings_it_back(example, alice):
    subscriber_create(actor=alice, domain=example, username="carol", password="carol-secret")
    services.domain_attribute_set(actor=alice, domain=example, name="max_contacts", value="3")
    relations = {
        "domain": "domain",
        "domain_attrs": "name",
        "subscriber": "username",
        "uri": "uri_user",
    }
    before = {name: proxy_rows(name, cols) for name, cols in relations.items()}
    assert all(before.values())

    services.domain_disable(actor=alice, domain=example)
    assert all(proxy_rows(name, cols) == [] for name, cols in relations.items())
    assert example.subscribers.count() == 1  # nothing deleted

    services.domain_enable(actor=alice, domain=example)
    assert {name: proxy_rows(name, cols) for name, cols in relations.items()} == before


def test_lifecycle_states_that_are_not_served_hide_the_domain(example, alice):
    for state, served in [
        ("suspect", True),
        ("disabled", False),
        ("removed", False),
        ("pending", False),
        ("active", True),
    ]:
        services.domain_set_state(actor=None, domain=example, state=state)
        assert bool(proxy_rows("domain", "domain")) is served, state


def test_delete_with_subscribers_needs_force_and_says_what_goes(example, alice):
    subscriber_create(actor=alice, domain=example, username="carol", password="carol-secret")
    with pytest.raises(ValidationError, match="1 subscriber"):
        services.domain_delete(actor=alice, domain=example)
    assert Domain.objects.filter(pk=example.pk).exists()
    summary = services.domain_delete(actor=alice, domain=example, force=True)
    assert summary.subscribers == 1
    assert sorted(summary.names) == ["192.0.2.10", "example.com", "sip.example.com"]
    assert not Domain.objects.exists()
    assert proxy_rows("subscriber", "username") == []


def test_one_transaction_bumps_the_generation_once(alice, django_capture_on_commit_callbacks):
    from django.db import transaction

    start = generation()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        domain = services.domain_create(actor=alice, name="burst.example.com")
        for i in range(20):
            services.domain_name_add(actor=alice, domain=domain, name=f"a{i}.burst.example.com")
    assert generation() == start + 1
    assert len(callbacks) == 1


def test_a_rolled_back_change_schedules_nothing(alice, django_capture_on_commit_callbacks):
    from django.db import transaction

    start = generation()
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.domain_create(actor=alice, name="gone.example.com")
            raise RuntimeError
    assert generation() == start
    assert callbacks == []
    assert not Domain.objects.exists()
