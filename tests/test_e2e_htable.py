"""End to end: per-domain attributes served by Kamailio's htable module.

The reference configuration with ``-A WITH_HTABLE_ATTRS`` reads attributes from
``domain_attrs_htable`` into the hash table ``domattrs`` and gives its domain module an
empty attribute relation; serweb runs with ``SERWEB_PROXY_ATTRIBUTES=htable`` and sends
``htable.reload`` with every reload. Changes go through the services and the reload path.
"""

import pytest

from domains.services import domain_attribute_set, domain_create
from proxies import reload
from proxies.generation import desired_generation
from proxies.models import Proxy
from subscribers.services import subscriber_create, subscriber_set_password
from tests.kamailio_harness import Kamailio, Sipp, proxy_login, scratch_dir, serweb_proxy

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def htable_dir():
    with scratch_dir("serweb-e2e-htable-") as path:
        yield path


@pytest.fixture(scope="session")
def htable_db_url(django_db_setup, django_db_blocker):
    with proxy_login(django_db_blocker, "serweb_e2e_ht") as (url, _where):
        yield url


@pytest.fixture(scope="session")
def htable_kamailio(htable_db_url, htable_dir):
    directory = htable_dir / "kamailio"
    directory.mkdir()
    instance = Kamailio(directory, htable_db_url, defines=("WITH_HTABLE_ATTRS",))
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def sipp(htable_kamailio, htable_dir, request) -> Sipp:
    directory = htable_dir / "sipp" / request.node.name
    directory.mkdir(parents=True)
    return Sipp(directory, htable_kamailio.sip_address)


@pytest.fixture
def proxy(htable_kamailio, transactional_db, settings) -> Proxy:
    settings.SERWEB_PROXY_ATTRIBUTES = "htable"
    return serweb_proxy(htable_kamailio, "kam-htable")


def challenge_realm(sipp: Sipp, user: str, domain: str, password: str, *, ok=True) -> str:
    """The realm of the proxy's challenge to a REGISTER; with ``ok``, the REGISTER must
    then succeed with the password."""
    result = sipp.run("register.xml", keys={"user": user, "domain": domain}, auth=(user, password))
    assert result.ok or not ok, result.explain()
    realms = [
        line.split("challenge realm=", 1)[1].split()[0]
        for line in result.log.splitlines()
        if "challenge realm=" in line
    ]
    assert realms, result.explain()
    return realms[-1]


def test_a_realm_attribute_from_htable_changes_the_challenge_realm(proxy, sipp, htable_kamailio):
    domain = domain_create(actor=None, name="realm.ht.test", aliases=["sip.realm.ht.test"])
    dave = subscriber_create(actor=None, domain=domain, username="dave", password="dave-secret")
    assert challenge_realm(sipp, "dave", "sip.realm.ht.test", "dave-secret") == "realm.ht.test"

    domain_attribute_set(
        actor=None, domain=domain, name="realm", value="voip.ht.test", accept_password_reset=True
    )
    subscriber_set_password(actor=None, subscriber=dave, password="dave-secret-2")
    assert challenge_realm(sipp, "dave", "sip.realm.ht.test", "dave-secret-2") == "voip.ht.test"
    assert htable_kamailio.rpc("htable.get", ["domattrs", "realm.ht.test:realm"]) == {
        "item": {
            "name": "realm.ht.test:realm",
            "value": "voip.ht.test",
            "flags": 2,
            "expire": "NEVER",
        }
    }
    # The domain module itself holds no attributes in this variant.
    assert "voip.ht.test" not in str(htable_kamailio.rpc("domain.dump"))


def test_a_new_domain_has_its_htable_realm_from_its_first_request(proxy, sipp):
    domain = domain_create(actor=None, name="first.ht.test", attributes={"realm": "x.ht.test"})
    subscriber_create(actor=None, domain=domain, username="erin", password="erin-secret")
    assert challenge_realm(sipp, "erin", "first.ht.test", "erin-secret") == "x.ht.test"


def test_without_htable_reload_the_proxy_keeps_the_old_attribute(proxy, sipp, settings):
    """What makes the change live is htable.reload: the domain tables alone do not carry it."""
    domain = domain_create(actor=None, name="stale.ht.test", attributes={"realm": "a.ht.test"})
    subscriber_create(actor=None, domain=domain, username="finn", password="finn-secret")
    assert challenge_realm(sipp, "finn", "stale.ht.test", "finn-secret") == "a.ht.test"

    settings.SERWEB_PROXY_ATTRIBUTES = "domain_attrs"
    domain_attribute_set(
        actor=None, domain=domain, name="realm", value="b.ht.test", accept_password_reset=True
    )
    assert Proxy.objects.get(pk=proxy.pk).applied_generation == desired_generation()
    # The hashes now use the new realm, the challenge still the old one: no 200 here.
    assert challenge_realm(sipp, "finn", "stale.ht.test", "finn-secret", ok=False) == "a.ht.test"

    settings.SERWEB_PROXY_ATTRIBUTES = "htable"
    assert reload.proxy_reload(proxy.pk, force=True).status == reload.Status.APPLIED
    subscriber = domain.subscribers.get(username="finn")
    subscriber_set_password(actor=None, subscriber=subscriber, password="finn-secret-2")
    assert challenge_realm(sipp, "finn", "stale.ht.test", "finn-secret-2") == "b.ht.test"
