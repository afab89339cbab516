"""Adoption, end to end: a Kamailio reading an operator's own database answers every
scenario the same way once that database is adopted and the same Kamailio reads serweb.

The stock database is built with Kamailio's schema files and kamctl (tests/kamailio_stock.py);
the Kamailio is Debian's with the reference configuration, which reads the stock tables as
it reads serweb's relations (same names, same columns). SIPp plays the phones.
"""

import os
import re
from dataclasses import dataclass

import pytest
from django.core.management import call_command

from domains.services import domain_create
from proxies import reload
from proxies.generation import desired_generation
from proxies.models import Proxy
from proxies.services import proxy_create
from tests.kamailio_harness import Kamailio, Sipp, free_port, proxy_login, scratch_dir
from tests.kamailio_stock import (
    add_rows_kamailio_refuses_to_load,
    fill_like_an_operator,
    postgres_stock_database,
)

pytestmark = pytest.mark.postgres

PASSWORDS = {
    "alice": "alice-secret-1",
    "bob": "bob-secret-1",
    "erin": "erin-secret-1",
    "gus": "gus-secret-1",
}


@dataclass(frozen=True)
class Answer:
    """What a scenario saw: SIPp's verdict, the responses, the challenge realm, and for a
    call, whether the callee answered and which user the proxy rang."""

    ok: bool
    statuses: tuple[int, ...]
    realm: str | None
    answered: bool | None = None
    rang: str | None = None


def _answer(result, uas_result=None) -> Answer:
    realm = re.search(r"challenge realm=(\S+)", result.log)
    rang = re.search(r"INVITE sip:([^@\s]+)@", uas_result.messages) if uas_result else None
    return Answer(
        ok=result.ok,
        statuses=tuple(result.statuses()),
        realm=realm.group(1) if realm else None,
        answered=None if uas_result is None else uas_result.ok,
        rang=rang.group(1) if rang else None,
    )


def register(sipp: Sipp, user: str, via: str, *, auth_user: str | None = None, port=None):
    return sipp.run(
        "register.xml",
        keys={"user": user, "domain": via},
        auth=(auth_user or user, PASSWORDS[user]),
        port=port,
    )


def call(sipp: Sipp, *, from_user: str, callee: str, domain: str, answerer_port: int):
    """alice (From ``from_user``) calls callee@domain; the phone registered from
    ``answerer_port`` answers if the call reaches it."""
    uas = sipp.start_uas(port=answerer_port, timeout=8)
    try:
        result = sipp.run(
            "invite.xml",
            keys={"from_user": from_user, "from_domain": "alpha.test", "callee": callee}
            | {"domain": domain},
            auth=("alice", PASSWORDS["alice"]),
            timeout=6,
        )
        return _answer(result, uas.wait(timeout=10))
    finally:
        uas.stop()


def scenarios(sipp: Sipp) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for user, names in [
        # Alpha.TEST is a row of its own in the stock table; serweb keeps one spelling.
        ("alice", ["alpha.test", "Alpha.TEST"]),
        ("erin", ["beta.test", "sip.beta.test", "127.0.0.5", "[2001:db8::5]"]),
        ("gus", ["gamma.test", "voip.gamma.test"]),
    ]:
        for name in names:
            answers[f"REGISTER {user} via {name}"] = _answer(register(sipp, user, name))
    # A digest user written user@did authenticates with ha1b.
    answers["REGISTER bob as bob@alpha.test (ha1b)"] = _answer(
        register(sipp, "bob", "alpha.test", auth_user="bob@alpha.test")
    )
    # The phones that answer the calls, registered once each.
    bob_port, gus_port = free_port(), free_port()
    answers["REGISTER bob via alpha.test"] = _answer(
        register(sipp, "bob", "alpha.test", port=bob_port)
    )
    answers["REGISTER gus via gamma.test (to answer)"] = _answer(
        register(sipp, "gus", "gamma.test", port=gus_port)
    )
    answers["REGISTER to an unserved domain"] = _answer(
        sipp.run("register_refused.xml", keys={"user": "carol", "domain": "nowhere.test"})
    )
    answers["INVITE from a listed From (boss) to bob"] = call(
        sipp, from_user="boss", callee="bob", domain="alpha.test", answerer_port=bob_port
    )
    answers["INVITE from an unlisted From (mallory)"] = _answer(
        sipp.run(
            "invite_forbidden.xml",
            keys={"from_user": "mallory", "from_domain": "alpha.test", "callee": "bob"}
            | {"domain": "alpha.test"},
            auth=("alice", PASSWORDS["alice"]),
        )
    )
    answers["INVITE to the user alias 1000@alpha.test"] = call(
        sipp, from_user="alice", callee="1000", domain="alpha.test", answerer_port=bob_port
    )
    answers["INVITE to the user alias 2000@gamma.test (did corp-7)"] = call(
        sipp, from_user="alice", callee="2000", domain="gamma.test", answerer_port=gus_port
    )
    return answers


@pytest.fixture
def e2e_dir():
    with scratch_dir("serweb-adopt-") as path:
        yield path


@pytest.fixture
def stock_url(transactional_db):
    with postgres_stock_database(f"serweb_adopt_stock_{os.getpid()}") as url:
        yield url


def test_an_adopted_kamailio_answers_every_scenario_as_before(
    stock_url, e2e_dir, django_db_blocker, capsys
):
    # The operator's database, and the same Kamailio reading it.
    fill_like_an_operator(stock_url, e2e_dir / "kamctl")
    domain_create(actor=None, name="delta.test")
    kamailio = Kamailio(e2e_dir / "kamailio", stock_url)
    kamailio.directory.mkdir()
    kamailio.start()
    try:
        add_rows_kamailio_refuses_to_load(stock_url)
        sipp = Sipp(e2e_dir / "sipp-before", kamailio.sip_address)
        sipp.directory.mkdir()
        before = scenarios(sipp)
        assert before["REGISTER alice via alpha.test"].statuses == (401, 200), before
        assert before["INVITE from an unlisted From (mallory)"].statuses[-1] == 403, before

        call_command("adopt", "kamailio", stock_url, "--dry-run")
        report = capsys.readouterr().out
        print(report)

        # The same Kamailio, now reading serweb's relations through the proxy's login.
        kamailio.stop()
        with proxy_login(django_db_blocker, "serweb_adopt") as (serweb_url, _where):
            kamailio.db_url = serweb_url
            kamailio.start()
            proxy = proxy_create(actor=None, name="kam", transport="fifo", address=kamailio.fifo)
            assert reload.proxy_reload(proxy.pk, force=True).status == reload.Status.APPLIED
            reloads = kamailio.reloads_logged()

            call_command("adopt", "kamailio", stock_url)

            # One transaction, one reload, and the proxy has it.
            assert kamailio.reloads_logged() == reloads + 1
            proxy = Proxy.objects.get(pk=proxy.pk)
            assert proxy.applied_generation == desired_generation()
            sipp = Sipp(e2e_dir / "sipp-after", kamailio.sip_address)
            sipp.directory.mkdir()
            after = scenarios(sipp)
            kamailio.stop()
    finally:
        kamailio.stop()

    for name, answer in before.items():
        print(f"{name}: {answer}")
    assert all(answer.ok for answer in before.values()), before
    assert after == before
    assert (
        "would adopt 3 domains (7 names, 4 attributes), 4 subscribers (5 valid From identities, 2 user aliases)"
        in report
    )
    for expected in [
        "domain id 3 'Alpha.TEST' did 'alpha.test': duplicate of id 1 'alpha.test', differing "
        "only in case",
        "domain id 2 'delta.test': already in serweb (domain delta.test)",
        "domain_attrs id 5 did 'beta.test' weird='x' type 1: unknown type 1",
        "domain_attrs id 6 did 'alpha.test' max_contacts='many' type 0: max_contacts: 'many' "
        "is not an integer",
        "subscriber id 3 dave@delta.test: its domain delta.test is not adopted",
        "subscriber id 6 carol@nowhere.test: its domain 'nowhere.test' is not served",
        "subscriber id 7 alice@ALPHA.test: duplicate of id 1 (alice@alpha.test)",
        "uri id 6 zed@alpha.test may use From 'zed': no adopted subscriber zed@alpha.test",
    ]:
        assert expected in report, report
    assert "not adopted: 8 rows" in report, report
