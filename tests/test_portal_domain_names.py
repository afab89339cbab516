"""The names table of an operator's domain page: each name's DNS state and last check,
exempting a name and putting it back, restoring one housekeeping removed; the same
services as the command line and the API, audited; a tenant gets 404. The tenant's own
domain page shows its names' states, read only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.jobs import job_run, job_start
from api.models import Job
from audit.models import AuditEntry
from domains.models import Domain, DomainName, DomainTransition, NameCheck, NameState, Tenant
from domains.services import domain_create
from tests import dns_harness
from tests.helpers import proxy_rows
from tests.portal_helpers import (
    attrs_of,
    elements,
    field_errors,
    flash_messages,
    page_tree,
    text_of,
)

DID = "names.example"
URL = f"/domain/{DID}/"

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings


@pytest.fixture
def domain(alice, bob) -> Domain:
    return domain_create(
        actor=alice,
        name=DID,
        aliases=["sip.names.example", "old.names.example", "192.0.2.7"],
        tenant=Tenant.objects.get(owner=bob),
    )


def check(name: str, **fields) -> NameCheck:
    return NameCheck.objects.create(name=DomainName.objects.get(name=name), **fields)


@pytest.fixture
def checked(domain):
    now = timezone.now()
    check(
        "sip.names.example",
        state=NameState.SUSPECT,
        verdict="absent",
        outcome="negative",
        reason="the domain does not exist (NXDOMAIN)",
        checked_at=now,
        negatives=1,
    )
    check("old.names.example", state=NameState.REMOVED, verdict="foreign", checked_at=now)
    check(
        "192.0.2.7",
        state=NameState.DISABLED,
        verdict="foreign",
        outcome="negative",
        reason="192.0.2.7 is not one of the proxy addresses",
        checked_at=now,
    )
    return domain


def name_rows(response) -> dict[str, list[str]]:
    """The names table: each name's cells (kind, role, state, last check, actions)."""
    [table] = [t for t in elements(page_tree(response), "table") if "DNS state" in text_of(t)]
    rows = {}
    for row in elements(table, "tr"):
        heads = list(elements(row, "th"))
        if len(heads) != 1:
            continue  # the table's head
        [head] = heads
        rows[text_of(head)] = [" ".join(text_of(cell).split()) for cell in elements(row, "td")]
    return rows


@pytest.fixture
def operator(client, alice):
    client.force_login(alice)
    return client


def test_each_name_shows_its_state_and_last_check(operator, checked):
    rows = name_rows(operator.get(URL))

    assert rows[DID][2:4] == ["active", "not checked yet"]
    assert rows["sip.names.example"][2].startswith("suspect since ")
    assert rows["sip.names.example"][3].endswith(
        "the domain does not exist (NXDOMAIN) 1 negative check counted"
    )
    assert rows["192.0.2.7"][2].startswith("disabled since ")
    assert "192.0.2.7 is not one of the proxy addresses" in rows["192.0.2.7"][3]
    assert rows["old.names.example"][2].startswith("removed since ")
    # Every name can be exempted but a removed one, which is restored instead.
    assert (
        "Exempt" in rows["sip.names.example"][4] and "Restore" not in rows["sip.names.example"][4]
    )
    assert (
        "Restore" in rows["old.names.example"][4] and "Exempt" not in rows["old.names.example"][4]
    )


def test_the_page_costs_the_same_queries_with_every_name_checked(operator, domain):
    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert operator.get(URL).status_code == 200
        return len(seen)

    few = queries()
    for i in range(10):
        name = DomainName.objects.create(domain=domain, name=f"n{i}.names.example")
        NameCheck.objects.create(name=name, state=NameState.SUSPECT, checked_at=timezone.now())
    assert queries() == few


def test_an_operator_exempts_a_disabled_literal_and_puts_it_back(operator, checked, settings):
    settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10"]
    assert "192.0.2.7" not in [name for (name,) in proxy_rows("domain", "domain")]

    answer = operator.post(f"{URL}names/exempt/", {"name": "192.0.2.7", "exempt": "true"})

    assert answer.status_code == 302
    page = operator.get(answer.url)
    assert flash_messages(page) == [
        "Exempted 192.0.2.7 from DNS housekeeping: served whatever the proxy addresses say."
    ]
    assert name_rows(page)["192.0.2.7"][2] == "active exempt"
    assert "192.0.2.7" in [name for (name,) in proxy_rows("domain", "domain")]
    entry = AuditEntry.objects.get(action="domain.name_exempt")
    assert (entry.channel, entry.actor_name, entry.after["name"]) == ("web", "alice", "192.0.2.7")

    # Back under housekeeping, an IP literal is checked at once against the addresses.
    answer = operator.post(
        f"{URL}names/exempt/", {"name": "192.0.2.7", "exempt": "false"}, follow=True
    )
    assert flash_messages(answer) == [
        "Put 192.0.2.7 back under DNS housekeeping; it is disabled: "
        "192.0.2.7 is not one of the proxy addresses."
    ]
    assert name_rows(answer)["192.0.2.7"][2].startswith("disabled")
    assert "192.0.2.7" not in [name for (name,) in proxy_rows("domain", "domain")]
    assert AuditEntry.objects.filter(action="domain.name_managed", channel="web").count() == 1


def test_an_operator_restores_a_removed_name(operator, checked):
    answer = operator.post(f"{URL}names/restore/", {"name": "old.names.example"}, follow=True)

    assert flash_messages(answer) == [
        "Restored old.names.example: not served until DNS points it at us again "
        "(Verify now checks it)."
    ]
    assert name_rows(answer)["old.names.example"][2].startswith("disabled")
    entry = AuditEntry.objects.get(action="domain.name_restore")
    assert (entry.channel, entry.before["state"], entry.after["state"]) == (
        "web",
        "removed",
        "disabled",
    )


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("names/restore/", {"name": "sip.names.example"}, "is suspect, not removed"),
        ("names/restore/", {"name": "other.example"}, "is not a name of domain"),
        ("names/exempt/", {"name": "other.example", "exempt": "true"}, "is not a name of domain"),
        ("names/exempt/", {"name": "", "exempt": "true"}, "This field is required."),
    ],
)
def test_bad_requests_are_refused_above_the_names(operator, checked, path, data, message):
    before = AuditEntry.objects.count()
    states = sorted(NameCheck.objects.values_list("name__name", "state", "exempt"))

    answer = operator.post(f"{URL}{path}", data)

    assert answer.status_code == 400
    assert message in field_errors(answer)["__all__"]
    assert AuditEntry.objects.count() == before
    assert sorted(NameCheck.objects.values_list("name__name", "state", "exempt")) == states


def test_the_forms_need_a_csrf_token(client, alice, checked):
    client.force_login(alice)
    page = client.get(URL).content.decode()
    for action in ("names/exempt/", "names/restore/"):
        form = page.split(f'action="{URL}{action}"', 1)[1].split("</form>", 1)[0]
        assert 'name="csrfmiddlewaretoken"' in form
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(alice)
    answer = strict.post(f"{URL}names/exempt/", {"name": "192.0.2.7", "exempt": "true"})
    assert answer.status_code == 403
    assert not NameCheck.objects.filter(exempt=True).exists()


@pytest.mark.parametrize("path", ["names/exempt/", "names/restore/"])
@pytest.mark.parametrize("person", ["bob", "charlie"])
def test_a_tenant_gets_404_even_for_its_own_domain(client, bob, charlie, checked, person, path):
    client.force_login(bob if person == "bob" else charlie)

    answer = client.post(f"{URL}{path}", {"name": "old.names.example", "exempt": "true"})

    assert answer.status_code == 404
    assert NameCheck.objects.get(name__name="old.names.example").state == NameState.REMOVED
    assert not AuditEntry.objects.filter(action__startswith="domain.name_").exists()


def test_the_tenant_page_shows_each_names_state_read_only(client, bob, checked):
    client.force_login(bob)

    answer = client.get(f"/my/domains/{DID}/")

    assert answer.status_code == 200
    [section] = [
        s
        for s in elements(page_tree(answer), "section")
        if ("aria-labelledby", "names-heading") in s.attributes
    ]
    # The text as read, without the space text_of puts between an element and what follows.
    shown = " ".join(text_of(section).split()).replace(" :", ":").replace(" ;", ";")
    assert "sip.names.example (alias) suspect: served, but its DNS no longer points at us" in shown
    assert "the domain does not exist (NXDOMAIN)" in shown
    assert "192.0.2.7 (IP literal) disabled: not served" in shown
    assert "old.names.example (alias) removed: not served" in shown
    assert not list(elements(section, "form"))


def test_the_tenant_page_costs_the_same_queries_with_every_name_checked(client, bob, domain):
    client.force_login(bob)

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get(f"/my/domains/{DID}/").status_code == 200
        return len(seen)

    few = queries()
    for i in range(10):
        name = DomainName.objects.create(domain=domain, name=f"n{i}.names.example")
        NameCheck.objects.create(name=name, state=NameState.SUSPECT, checked_at=timezone.now())
    # The banner lists the suspect names: at most a page of them, in the same queries.
    assert queries() == few + 1  # and, past a page, counts them


def test_the_dns_history_says_which_name_moved(operator, domain):
    DomainTransition.objects.create(
        domain=domain, name="192.0.2.7", from_state="active", to_state="disabled", verdict="foreign"
    )
    DomainTransition.objects.create(
        domain=domain, from_state="active", to_state="suspect", verdict="absent"
    )

    [panel] = elements(page_tree(operator.get(URL)), "section", id="dns-panel")
    said = " ".join(text_of(panel).split())

    assert "the domain: active → suspect" in said
    assert "192.0.2.7: active → disabled" in said


def test_a_finished_check_brings_the_names_table_up_to_date(
    operator, alice, checked, settings, knot, dns_settings
):
    settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.7"]
    job = job_start(
        actor=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=checked.pk, target=checked.did
    )
    job_run(job.pk)

    fragment = operator.get(f"{URL}jobs/{job.pk}/", HTTP_HX_REQUEST="true")

    [table] = elements(page_tree(fragment), "div", id="domain-names")
    assert attrs_of(table).get("hx-swap-oob") == "true"
    # The literal is one of the proxy addresses now: active in the table swapped in.
    assert "192.0.2.7" in text_of(table) and name_rows(fragment)["192.0.2.7"][2] == "active"
    # The whole page has the table once, not swapped out of band.
    [whole] = elements(page_tree(operator.get(URL)), "div", id="domain-names")
    assert "hx-swap-oob" not in attrs_of(whole)
