"""A tenant claims a domain on its pages: the name normalised, refusals next to the field
(reserved, taken, another's, past the quota or the limit of waiting claims, also when many
ask at once), the records to publish with the time left, "check now" as a job at most once
per cooldown, the panel htmx polls, the download, withdrawing; nobody else's claim."""

import html
import re

import pytest
from django.test import Client

from api.models import Job
from audit.models import AuditEntry
from domains.dns.claims import domain_claim_start
from domains.models import Domain, DomainClaim, DomainState, Tenant
from domains.services import domain_create
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES
from tests.helpers import in_parallel
from tests.portal_helpers import SIGN_IN, elements, flash_messages, page_tree, text_of

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

# Jobs start after the commit of the request that asked for them, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(client, bob, dns_settings):
    client.force_login(bob)
    return Tenant.objects.get(owner=bob)


def name_error(page) -> str:
    [error] = elements(page_tree(page), "small", id="id_name_error")
    return text_of(error)


def record_rows(page) -> dict[str, str]:
    """Each record row of the panel: its record, and what serweb sees of it (the badge)."""
    rows = {}
    for row in elements(page_tree(page), "tr"):
        record = dict(row.attributes).get("data-record")
        if record:
            [badge] = [b for b in elements(row, "span") if "badge" in dict(b.attributes)["class"]]
            rows[record] = text_of(badge)
    return rows


def test_a_unicode_name_is_claimed_as_its_a_label_and_its_records_shown(client, tenant):
    page = client.post("/my/claims/add/", {"name": "Bücher.TEST."}, follow=True)

    claim = DomainClaim.objects.get(tenant=tenant)
    assert claim.name == "xn--bcher-kva.test"
    assert flash_messages(page) == [f"Claim of {claim.name} started: publish the records below."]
    [title] = elements(page_tree(page), "h1")
    assert text_of(title) == "Claim of bücher.test"
    assert 'title="xn--bcher-kva.test"' in page.text
    assert re.search(
        r"expires in <time[^>]*>23 hours, 59 minutes</time>", page.text.replace("\xa0", " ")
    )
    rows = record_rows(page)
    assert len(rows) == 7  # 3 transports x 2 proxy host names, and the token
    assert rows[f'_serweb-challenge.{claim.name} TXT "{claim.token}"'] == "not checked"
    srv = f"_sips._tcp.{claim.name} SRV 10 10 5061 {PROXY_HOSTNAMES[1]}."
    assert rows[srv] == "not checked"
    # Every value has its copy button, named for screen readers; the zone-file lines too.
    buttons = [
        dict(button.attributes)
        for button in elements(page_tree(page), "button")
        if "copy" in (dict(button.attributes).get("class") or "").split()
    ]
    assert any(button.get("data-copy") == claim.token for button in buttons)
    assert any(button.get("data-copy") == PROXY_HOSTNAMES[0] for button in buttons)
    assert any(button.get("data-copy-from") == "zone-snippet" for button in buttons)
    assert all(button.get("aria-label") for button in buttons if "data-copy" in button)
    snippet = html.unescape(page.text)
    assert f'_serweb-challenge.{claim.name}. 3600 IN TXT "{claim.token}"' in snippet


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("printer.localhost", "never served"),
        ("192.0.2.7", "IP address"),
        ("bad_name.test", "not a valid domain name"),
        ("taken.test", "taken.test is not available; ask the operator"),
        ("sip.taken.test", "sip.taken.test is not available; ask the operator"),
        ("waited-for.test", "waited-for.test is not available; ask the operator"),
        ("mine.test", "mine.test is already one of your domains"),
    ],
)
def test_a_name_that_cannot_be_claimed_is_refused_next_to_the_field(
    client, tenant, alice, charlie, name, message
):
    domain_create(actor=alice, name="taken.test", tenant=charlie.tenant)
    domain_create(actor=alice, name="mine.test", tenant=tenant)
    domain_claim_start(actor=charlie, tenant=charlie.tenant, name="waited-for.test")

    page = client.post("/my/claims/add/", {"name": name})

    assert page.status_code == 200
    assert message in name_error(page)
    assert not DomainClaim.objects.filter(tenant=tenant).exists()


def test_the_quota_and_the_limit_of_waiting_claims_are_told_next_to_the_field(client, tenant):
    tenant.pending_claim_limit = 1
    tenant.save()
    client.post("/my/claims/add/", {"name": "one.test"})
    page = client.post("/my/claims/add/", {"name": "two.test"})
    assert "1 of your claims wait for DNS proof" in name_error(page)

    tenant.pending_claim_limit, tenant.domain_quota = 5, 1
    tenant.save()
    page = client.post("/my/claims/add/", {"name": "two.test"})
    assert "as many as your quota allows (1)" in name_error(page)
    assert "You hold 1 of 1 domains and claims" in page.text
    assert list(DomainClaim.objects.values_list("name", flat=True)) == ["one.test"]


@pytest.mark.postgres
def test_claims_asked_at_once_never_pass_the_limit(tenant, bob):
    tenant.pending_claim_limit = 3
    tenant.save()

    def claim(i: int):
        client = Client()
        client.force_login(bob)
        return client.post("/my/claims/add/", {"name": f"parallel{i}.test"})

    pages = in_parallel(8, claim)

    assert all(not isinstance(page, BaseException) for page in pages), pages
    assert sorted(page.status_code for page in pages) == [200] * 5 + [302] * 3
    assert DomainClaim.objects.filter(tenant=tenant).count() == 3
    for page in pages:
        if page.status_code == 200:
            assert "3 of your claims wait for DNS proof" in name_error(page)


@pytest.mark.postgres
def test_one_name_asked_by_two_tenants_at_once_is_waited_for_by_one(tenant, bob, charlie):
    def claim(i: int):
        client = Client()
        client.force_login(bob if i % 2 else charlie)
        return client.post("/my/claims/add/", {"name": "contested.test"})

    pages = in_parallel(6, claim)

    assert all(not isinstance(page, BaseException) for page in pages), pages
    claims = DomainClaim.objects.filter(name="contested.test")
    assert claims.count() == 1
    winner = claims.get().tenant
    for page in pages:
        if page.status_code == 200:
            assert name_error(page) == "contested.test is not available; ask the operator"
    assert all(page.status_code in (200, 302) for page in pages)
    assert AuditEntry.objects.filter(action="domain.claim_start").count() == 1
    assert winner in (bob.tenant, charlie.tenant)


def test_check_now_shows_each_record_keeps_a_cooldown_and_grants_the_domain(
    client, tenant, knot, settings, mailoutbox
):
    settings.SERWEB_SIP_TRANSPORTS = ["udp:5060"]
    name = knot.unique("check")
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name=name)
    knot.add(f"_sip._udp.{name}", "SRV", f"10 10 5060 {PROXY_HOSTNAMES[0]}.")

    page = client.post(f"/my/claims/{claim.pk}/check/", follow=True)
    assert flash_messages(page) == [f"Checked: the token is not in TXT _serweb-challenge.{name}."]
    rows = record_rows(page)
    assert rows[f"_sip._udp.{name} SRV 10 10 5060 {PROXY_HOSTNAMES[0]}."] == "found"
    assert rows[f"_sip._udp.{name} SRV 10 10 5060 {PROXY_HOSTNAMES[1]}."] == "missing"
    assert rows[f'_serweb-challenge.{name} TXT "{claim.token}"'] == "missing"
    assert "ns.test (127.0.0.1): missing" in page.text
    # The cooldown: the button waits, and a second check is refused, saying how long.
    assert re.search(r"<button type=\"submit\" disabled>Check now</button>", page.text)
    assert re.search(r"You can check again in \d+ s", page.text)
    again = client.post(f"/my/claims/{claim.pk}/check/", follow=True)
    assert re.match(
        r"Checked a moment ago: you can check again in \d+ s\.", flash_messages(again)[0]
    )
    assert Job.objects.filter(kind=Job.Kind.VERIFY_CLAIM, target_id=claim.pk).count() == 1

    # Published, checked again through htmx: the page moves to the live domain.
    settings.SERWEB_CHECK_COOLDOWN_SECONDS = 0
    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{claim.token}"')
    panel = client.post(f"/my/claims/{claim.pk}/check/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert panel["HX-Redirect"] == f"/my/domains/{name}/"
    assert Domain.objects.get(did=name, tenant=tenant).state == DomainState.ACTIVE
    assert client.get(f"/my/claims/{claim.pk}/").url == f"/my/domains/{name}/"
    assert [mail.subject for mail in mailoutbox] == [f"[serweb] {name} is live"]


def test_the_panel_polls_while_a_check_runs_and_shows_what_is_done(client, tenant):
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name="running.test")
    record = f'"{claim.token}"'
    Job.objects.create(
        user=tenant.owner,
        kind=Job.Kind.VERIFY_CLAIM,
        target_id=claim.pk,
        target=claim.name,
        state=Job.State.RUNNING,
        progress_done=1,
        progress_total=7,
        result={
            "records": {
                "zone": "test",
                "checks": [
                    {
                        "record": {"name": f"_serweb-challenge.{claim.name}", "type": "TXT"}
                        | {"data": record},
                        "seen": "found",
                        "resolver": {"where": "serweb's resolver", "seen": "found", "found": []},
                        "servers": [],
                        "note": "",
                    }
                ],
            }
        },
    )

    panel = client.get(f"/my/claims/{claim.pk}/status/", HTTP_HX_REQUEST="true")

    assert panel.text.lstrip().startswith('<section id="records-panel"')
    assert 'hx-trigger="every 1s"' in panel.text
    assert "Checking: 1 of 7 records done" in panel.text
    assert record_rows(panel)[f"_serweb-challenge.{claim.name} TXT {record}"] == "found"
    assert "<html" not in panel.text
    # Without JS, the same address is the whole page.
    assert "<html" in client.get(f"/my/claims/{claim.pk}/status/").text


def test_the_records_download_as_a_zone_file(client, tenant):
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name="download.test")
    answer = client.get(f"/my/claims/{claim.pk}/zone.txt")
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="download.test.zone.txt"'
    lines = answer.content.decode().splitlines()
    assert lines[0] == "; serweb: the DNS records of download.test"
    assert f'_serweb-challenge.download.test. 3600 IN TXT "{claim.token}"' in lines
    assert "_sip._udp.download.test. 3600 IN SRV 10 10 5060 proxy1.serweb.test." in lines


def test_a_claim_is_withdrawn(client, tenant):
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name="withdrawn.test")
    page = client.post(f"/my/claims/{claim.pk}/withdraw/", follow=True)
    assert flash_messages(page) == ["Claim of withdrawn.test withdrawn."]
    assert not DomainClaim.objects.exists()
    entry = AuditEntry.objects.get(action="domain.claim_withdraw")
    assert (entry.actor, entry.tenant, entry.channel) == (tenant.owner, tenant, "web")


def test_nobody_else_reaches_a_claim(client, tenant, charlie):
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name="private.test")
    urls = [f"/my/claims/{claim.pk}/{tail}" for tail in ("", "zone.txt", "status/")]
    posts = [f"/my/claims/{claim.pk}/{tail}" for tail in ("check/", "withdraw/")]
    client.force_login(charlie)
    for url in urls:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url).status_code == 404, url
    anonymous = Client()
    for url in [*urls, "/my/claims/add/"]:
        answer = anonymous.get(url)
        assert answer.status_code == 302 and answer.url.startswith(f"{SIGN_IN}?next="), url
    assert DomainClaim.objects.filter(pk=claim.pk).exists()
    assert not Job.objects.exists()


def test_an_expired_claim_says_so_and_is_claimed_again_with_a_new_token(client, tenant):
    claim = domain_claim_start(actor=tenant.owner, tenant=tenant, name="late.test")
    DomainClaim.objects.filter(pk=claim.pk).update(expires_at=claim.created_at)
    page = client.get(f"/my/claims/{claim.pk}/")
    assert "expired" in page.text and "claim the name again" in page.text
    assert "expired" in client.get("/my/domains/").text

    again = client.post("/my/claims/add/", {"name": "late.test"}, follow=True)
    fresh = DomainClaim.objects.get(tenant=tenant, name="late.test")
    assert fresh.token != claim.token and not fresh.expired
    assert "expires in" in again.text.replace("\xa0", " ")
