"""End to end: the proxy's negative cache of the on-demand lookup, in both modes.

serweb runs as a real HTTP server (gunicorn) without auto-learning, so every unknown host
is "not ours" with a ttl of SERWEB_LOOKUP_NEGATIVE_TTL (2 s here); Kamailio runs the
reference configuration with WITH_LOOKUP, in the stock domain module mode and in the
htable index mode. serweb's access log counts the lookups the proxy made.
"""

import time

import pytest
from django.db import connection

from domains.services import domain_create
from proxies import reload, sip_probe, transport
from proxies.models import Proxy
from tests.kamailio_harness import (
    MODE_DEFINES,
    Sipp,
    proxy_login,
    scratch_dir,
    serweb_proxy,
    wait_until,
)
from tests.test_e2e_lookup import LookupKamailio, Serweb

pytestmark = pytest.mark.postgres

TTL = 2
TABLE = "lookupneg"


@pytest.fixture(scope="module")
def work_dir():
    with scratch_dir("serweb-e2e-negative-") as path:
        yield path


@pytest.fixture(scope="module")
def database(django_db_setup, django_db_blocker):
    with proxy_login(django_db_blocker, "serweb_e2e_negative") as (url, where):
        user = connection.settings_dict.get("USER") or "postgres"
        yield {"serweb": f"postgres://{user}@{where}", "kamailio": url}


@pytest.fixture(scope="module")
def serweb(work_dir, database):
    directory = work_dir / "serweb"
    directory.mkdir()
    server = Serweb(
        directory,
        database_url=database["serweb"],
        environment={
            "SERWEB_DNS_AUTO_LEARN": "0",
            "SERWEB_LOOKUP_NEGATIVE_TTL": str(TTL),
            "SERWEB_LOOKUP_CLIENTS": "127.0.0.1/32",
        },
    )
    server.start()
    yield server
    server.stop()


def start_kamailio(directory, database, serweb, mode: str, *defines: str) -> LookupKamailio:
    directory.mkdir(parents=True)
    kamailio = LookupKamailio(
        directory,
        database["kamailio"],
        lookup_url=serweb.lookup_url,
        defines=(*MODE_DEFINES[mode], *defines),
    )
    kamailio.start()
    return kamailio


@pytest.fixture(scope="module", params=["domain", "htable"])
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def kamailio(work_dir, database, serweb, mode):
    instance = start_kamailio(work_dir / f"kamailio-{mode}", database, serweb, mode)
    yield instance
    instance.stop()


@pytest.fixture
def proxy(kamailio, mode, transactional_db, settings) -> Proxy:
    """The Kamailio as serweb's proxy, reloaded to this test's (empty) data."""
    settings.SERWEB_PROXY_DOMAINS = mode
    settings.SERWEB_PROXY_NEGATIVE_HTABLE = TABLE
    return serweb_proxy(kamailio)


@pytest.fixture
def sipp(kamailio, work_dir, request) -> Sipp:
    directory = work_dir / "sipp" / request.node.name
    directory.mkdir(parents=True)
    return Sipp(directory, kamailio.sip_address)


def unique(label: str, request) -> str:
    """A name no other test of the run asks about (the proxy remembers across tests)."""
    return f"{label}-{request.node.callspec.id}-{time.monotonic_ns()}.negative.test"


def flood(sipp: Sipp, name: str, *, calls: int = 50):
    """``calls`` OPTIONS to alice@name, one after another as fast as the answers come."""
    result = sipp.run(
        "options_refused.xml",
        keys={"user": "alice", "domain": name},
        calls=calls,
        rate=1000,
        limit=1,
        timeout=20,
    )
    assert result.ok, result.explain()
    return result


def remembered(kamailio: LookupKamailio, name: str) -> str | None:
    """What the proxy's negative cache holds for ``name`` (serweb's status code), or None."""
    try:
        return kamailio.rpc("htable.get", [TABLE, name])["item"]["value"]
    except transport.ProxyRpcError as exc:
        # htable.get answers a missing key with 500 (htable.delete with 404).
        assert "doesn't exist" in str(exc), exc
        return None


def ask_once(kamailio: LookupKamailio, name: str) -> int:
    return sip_probe.options(kamailio.sip_address, f"alice@{name}", timeout=3).status


def test_a_flood_for_one_unknown_name_asks_serweb_once(proxy, kamailio, serweb, sipp, request):
    name, other = unique("flood", request), unique("other", request)

    flood(sipp, name)

    assert serweb.lookups(name, count=1) == [404]
    assert remembered(kamailio, name) == "404"
    # A second name is asked once more, and the first is still not asked again.
    flood(sipp, other)
    assert serweb.lookups(other, count=1) == [404]
    assert serweb.lookups(name, count=1) == [404]


def test_after_the_ttl_the_name_is_asked_again(proxy, kamailio, serweb, request):
    name = unique("ttl", request)
    assert ask_once(kamailio, name) == 404
    asked = time.monotonic()
    assert serweb.lookups(name, count=1) == [404]

    def asked_again() -> bool:
        assert ask_once(kamailio, name) == 404
        return len(serweb._lookups(name)) == 2

    wait_until(asked_again, timeout=TTL + 3, interval=0.1, what="asked again")
    waited = time.monotonic() - asked
    # Kamailio counts whole seconds: the entry lasts between TTL - 1 and TTL + 1 s.
    assert TTL - 1 <= waited <= TTL + 1.5, waited
    assert serweb.lookups(name, count=2) == [404, 404]


def test_a_name_that_becomes_served_is_served_at_once_despite_a_cached_negative(
    proxy, kamailio, serweb, sipp, monkeypatch, request
):
    name = unique("served", request)
    flood(sipp, name, calls=5)
    assert serweb.lookups(name, count=1) == [404] and remembered(kamailio, name) == "404"

    # The proxy's tables do not get the new domain (a reload waiting for quiet, or one
    # that failed): only the lookup can serve it, and only if the negative entry is gone.
    def refuse(*args, **kwargs):
        raise transport.ProxyRpcError(500, "not now")

    for method in ("domain_reload", "htable_reload", "htable_set"):
        monkeypatch.setattr(transport, method, refuse)
    domain = domain_create(actor=None, name=name)
    assert kamailio.serves(name) is None
    assert remembered(kamailio, name) is None

    challenged = sipp.run("register_challenged.xml", keys={"user": "alice", "domain": name})
    assert challenged.ok, challenged.explain()
    assert f"challenge realm={domain.did}" in challenged.log
    assert serweb.lookups(name, count=2) == [404, 200]

    monkeypatch.undo()
    assert reload.proxy_reload(proxy.pk).status == reload.Status.APPLIED
    assert kamailio.serves(name) == domain.did


def test_a_proxy_without_the_table_is_reloaded_all_the_same(
    proxy, kamailio, settings, caplog, request
):
    settings.SERWEB_PROXY_NEGATIVE_HTABLE = "nosuch"

    domain = domain_create(actor=None, name=unique("notable", request))

    assert kamailio.serves(domain.did) == domain.did
    assert "the lookup's negative cache 'nosuch' kept" in caplog.text
    assert "No such htable" in caplog.text


def test_the_cache_holds_at_most_its_bound(work_dir, database, serweb, mode, request):
    """LOOKUP_NEGATIVE_MAX=4: two names a window (here a day); the third is asked every time."""
    kamailio = start_kamailio(
        work_dir / f"kamailio-bound-{mode}",
        database,
        serweb,
        mode,
        "LOOKUP_NEGATIVE_MAX=4",
        "LOOKUP_NEGATIVE_TTL_MAX=86400",
    )
    try:
        names = [unique(f"bound{n}", request) for n in range(3)]
        for _ in range(2):
            assert [ask_once(kamailio, name) for name in names] == [404] * 3
        log = kamailio.log_text()
    finally:
        kamailio.stop()

    assert [len(serweb.lookups(name, count=1)) for name in names] == [1, 1, 2]
    assert log.count("negative cache full") == 1
