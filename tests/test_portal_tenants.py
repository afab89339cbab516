"""The tenants pages: a searchable list, creating and editing a tenant, its owner's
password, disabling and enabling it, what it holds, and moving a domain from one tenant to
another; in a fixed number of queries; operators only."""

import json
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.services import token_create
from audit.models import AuditEntry
from domains.dns.claims import domain_claim_start
from domains.models import Domain, DomainClaim, DomainOrigin, DomainState, Tenant
from domains.services import domain_create, tenant_create
from proxies.services import proxy_create
from tests.portal_helpers import SIGN_IN, field_errors, flash_messages
from tests.test_portal_access import post_forms, refused_without_token

PASSWORD = "a long tenant secret"


@pytest.fixture
def operator(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_corp(bob) -> Tenant:
    return Tenant.objects.get(owner=bob)


@pytest.fixture
def charlie_corp(charlie) -> Tenant:
    return Tenant.objects.get(owner=charlie)


@pytest.fixture
def bobs_domain(alice, bob_corp) -> Domain:
    return domain_create(
        actor=alice, name="bob.example.com", aliases=["sip.bob.example.com"], tenant=bob_corp
    )


def written() -> tuple:
    """Everything a tenant form could write."""
    return (
        list(Tenant.objects.order_by("pk").values()),
        list(get_user_model().objects.order_by("pk").values("username", "email", "is_active")),
        list(Domain.objects.order_by("pk").values("did", "tenant_id", "enabled")),
        AuditEntry.objects.count(),
    )


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200
    return len(captured)


def squeezed(answer) -> str:
    return " ".join(answer.text.split())


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_each_tenant_with_its_domains_and_claims(operator, alice, bob_corp, bob):
    domain_create(actor=alice, name="one.example.com", tenant=bob_corp)
    domain_create(actor=alice, name="two.example.com", tenant=bob_corp)
    domain_claim_start(actor=bob, tenant=bob_corp, name="claimed.example.org")
    tenant_create(actor=alice, name="Idle Ltd", owner_username="idle")

    page = squeezed(operator.get("/tenants/"))

    assert 'href="/tenants/" aria-current="page">Tenants</a>' in page
    assert f'<a href="/tenants/{bob_corp.pk}/">bob-corp</a>' in page
    assert '<td class="number">2</td> <td class="number">1</td>' in page
    assert "Idle Ltd" in page and "idle" in page


def test_the_list_searches_names_and_owners_logins(operator, alice, bob_corp, charlie_corp):
    tenant_create(actor=alice, name="Acme Voice", owner_username="wile")

    assert "Acme Voice" in operator.get("/tenants/?q=acme").text
    by_login = operator.get("/tenants/?q=WIL").text
    assert "Acme Voice" in by_login and "bob-corp" not in by_login
    assert "bob-corp" in operator.get("/tenants/?q=bob").text
    nothing = squeezed(operator.get("/tenants/?q=nobody"))
    assert "No tenant's name or owner's login contains “nobody”." in nothing
    too_long = operator.get("/tenants/?q=" + "x" * 151)
    assert too_long.status_code == 200 and "at most 150 characters" in too_long.text


def test_the_list_pages_without_counting_and_keeps_the_search(operator, alice):
    for i in range(55):
        tenant_create(actor=alice, name=f"Tenant {i:02d}", owner_username=f"owner{i:02d}")

    first = operator.get("/tenants/?q=tenant").text
    assert "Tenant 49" in first and "Tenant 50" not in first
    assert 'href="?q=tenant&amp;page=2" rel="next"' in first
    second = operator.get("/tenants/?q=tenant&page=2").text
    assert "Tenant 50" in second and "Tenant 54" in second and 'rel="next"' not in second
    for junk in ["0", "-1", "x", "²", "9" * 30]:
        assert operator.get(f"/tenants/?page={junk}").status_code == 200


def test_the_number_of_queries_does_not_grow_with_the_rows(operator, alice, bob):
    def grow(start: int, count: int) -> Tenant:
        for i in range(start, start + count):
            tenant = tenant_create(actor=alice, name=f"T{i}", owner_username=f"o{i}")
            domain_create(actor=alice, name=f"d{i}.example.com", tenant=tenant)
            domain_create(actor=alice, name=f"e{i}.example.com", aliases=[f"x.e{i}.example.com"])
            Domain.objects.filter(did=f"e{i}.example.com").update(tenant=tenant)
            DomainClaim.objects.create(tenant=tenant, name=f"c{i}.example.org", token="t")
        return Tenant.objects.get(name="T0")

    tenant = grow(0, 1)
    few = queries(operator, "/tenants/"), queries(operator, f"/tenants/{tenant.pk}/")
    grow(1, 12)
    for i in range(12):
        domain_create(actor=alice, name=f"more{i}.example.com", tenant=tenant)
        DomainClaim.objects.create(tenant=tenant, name=f"more{i}.example.org", token="t")
    many = queries(operator, "/tenants/"), queries(operator, f"/tenants/{tenant.pk}/")
    assert many == few
    assert "more11.example.com" in operator.get(f"/tenants/{tenant.pk}/").text


# --- creating and editing --------------------------------------------------------------------


def test_an_operator_creates_a_tenant_whose_owner_signs_in(operator):
    answer = operator.post(
        "/tenants/add/",
        {"name": "Dora's Phones", "owner": "dora", "email": "dora@t.test", "password": PASSWORD},
    )

    tenant = Tenant.objects.get(name="Dora's Phones")
    assert answer.status_code == 302 and answer.url == f"/tenants/{tenant.pk}/"
    assert (tenant.owner.username, tenant.owner.email) == ("dora", "dora@t.test")
    assert authenticate(username="dora", password=PASSWORD) == tenant.owner
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "channel"))
    assert actions == [("tenant.create", "web"), ("tenant.set_password", "web")]
    [message] = flash_messages(operator.get(answer.url))
    assert message == "Created tenant Dora's Phones: dora signs in with the password given."
    assert PASSWORD not in operator.get(answer.url).text


def test_a_tenant_without_a_password_cannot_sign_in_until_one_is_set(operator):
    operator.post("/tenants/add/", {"name": "Eve", "owner": "eve"})
    tenant = Tenant.objects.get(name="Eve")
    page = squeezed(operator.get(f"/tenants/{tenant.pk}/"))
    assert "no password yet: the owner cannot sign in" in page

    bad = operator.post(f"/tenants/{tenant.pk}/password/", {"password": "short"})
    assert "too short" in field_errors(bad)["password"]
    assert not Tenant.objects.get(pk=tenant.pk).owner.has_usable_password()

    operator.post(f"/tenants/{tenant.pk}/password/", {"password": PASSWORD})
    assert authenticate(username="eve", password=PASSWORD) is not None
    entry = AuditEntry.objects.get(action="tenant.set_password")
    assert entry.after == {"password": "changed"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "BOB-CORP"}, "name", "a tenant named BOB-CORP exists already"),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"owner": "bob"}, "owner", "the account 'bob' is taken or empty"),
        ({"owner": "no spaces here"}, "owner", "Enter a valid username"),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"password": "dora"}, "password", "too short"),
        ({"password": "12345678901"}, "password", "entirely numeric"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_written(
    operator, bob_corp, changes, field, message
):
    before = written()
    data = {"name": "Dora", "owner": "dora", "email": "", "password": "", **changes}

    answer = operator.post("/tenants/add/", data)

    assert answer.status_code == 200
    errors = field_errors(answer)
    assert list(errors) == [field] and message in errors[field], errors
    assert written() == before


def test_an_operator_renames_a_tenant_and_changes_the_owners_e_mail(operator, bob_corp):
    form = operator.get(f"/tenants/{bob_corp.pk}/edit/").text
    assert 'value="bob-corp"' in form and 'value="bob@tenant.test"' in form

    answer = operator.post(
        f"/tenants/{bob_corp.pk}/edit/", {"name": "Bob Telecom", "email": "ops@bob.test"}
    )

    assert answer.url == f"/tenants/{bob_corp.pk}/"
    bob_corp.refresh_from_db()
    bob_corp.owner.refresh_from_db()
    assert (bob_corp.name, bob_corp.owner.email, bob_corp.owner.username) == (
        "Bob Telecom",
        "ops@bob.test",
        "bob",
    )
    entry = AuditEntry.objects.get(action="tenant.update")
    assert entry.before == {"name": "bob-corp", "email": "bob@tenant.test"}
    assert entry.after == {"name": "Bob Telecom", "email": "ops@bob.test"}
    assert flash_messages(operator.get(answer.url)) == ["Saved tenant Bob Telecom."]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Charlie-Corp", "email": ""}, "name", "exists already"),
        ({"name": "  ", "email": ""}, "name", "This field is required."),
        ({"name": "bob-corp", "email": "no"}, "email", "Enter a valid email address."),
    ],
)
def test_a_bad_edit_is_shown_next_to_its_field_and_nothing_is_written(
    operator, bob_corp, charlie_corp, data, field, message
):
    before = written()
    answer = operator.post(f"/tenants/{bob_corp.pk}/edit/", data)
    errors = field_errors(answer)
    assert list(errors) == [field] and message in errors[field], errors
    assert written() == before


# --- what it holds ---------------------------------------------------------------------------


def test_the_tenant_page_shows_its_domains_claims_and_their_states(
    operator, alice, bob, bob_corp, bobs_domain
):
    domain_create(actor=alice, name="bücher.example", tenant=bob_corp, enabled=False)
    domain_create(
        actor=alice,
        name="new.example.com",
        tenant=bob_corp,
        origin=DomainOrigin.TENANT,
        state=DomainState.PENDING,
    )
    domain_create(actor=alice, name="not-bobs.example.com")
    claim = domain_claim_start(actor=bob, tenant=bob_corp, name="claimed.example.org")

    page = squeezed(operator.get(f"/tenants/{bob_corp.pk}/"))

    assert "<h1>bob-corp</h1>" in page and "bob@tenant.test" in page
    assert '<span class="sipname" title="xn--bcher-kva.example">bücher.example</span>' in page
    assert "sip.bob.example.com" in page and "not-bobs" not in page
    assert "claimed.example.org" in page and claim.token not in page
    # active 2 (one switched off), pending 1
    assert (
        'badge-active">active</span></th> <td class="number">2</td> <td class="number">1</td>'
        in page
    )
    assert (
        'badge-pending">pending</span> <small class="muted">pending verification</small></th>'
        ' <td class="number">1</td>'
    ) in page
    assert f'href="/tenants/transfer/?domain={bobs_domain.did}"' in page
    assert 'href="/tenants/transfer/?tenant=bob-corp"' in page


def test_the_tenant_page_pages_its_domains(operator, alice, bob_corp):
    for i in range(52):
        domain_create(actor=alice, name=f"d{i:02d}.example.com", tenant=bob_corp)
    first = operator.get(f"/tenants/{bob_corp.pk}/").text
    assert "d49.example.com" in first and "d50.example.com" not in first
    second = operator.get(f"/tenants/{bob_corp.pk}/?page=2").text
    assert "d51.example.com" in second and 'rel="prev"' in second


def test_a_tenant_that_does_not_exist_is_404(operator, bob_corp):
    for url in ["/tenants/{}/", "/tenants/{}/edit/", "/tenants/{}/disable/"]:
        assert operator.get(url.format(bob_corp.pk + 100)).status_code == 404
        assert operator.get(url.format("9" * 30)).status_code == 404


# --- disabling ---------------------------------------------------------------------------------


def test_a_disabled_tenant_is_signed_out_and_its_tokens_refused_its_domains_stay(
    operator, bob, bob_corp, bobs_domain
):
    _token, key = token_create(actor=None, user=bob, name="automation")
    tenant_client = Client()
    tenant_client.force_login(bob)
    assert tenant_client.get("/my/domains/").status_code == 200

    confirm = squeezed(operator.get(f"/tenants/{bob_corp.pk}/disable/"))
    assert "is signed out everywhere, cannot sign in, and its API tokens are refused" in confirm
    assert "Also switch off its 1 domain on the proxies" in confirm
    answer = operator.post(f"/tenants/{bob_corp.pk}/disable/")

    assert answer.url == f"/tenants/{bob_corp.pk}/"
    assert tenant_client.get("/my/domains/").url.startswith(SIGN_IN)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/domains/").status_code == 401
    assert Domain.objects.get(pk=bobs_domain.pk).enabled
    [message] = flash_messages(operator.get(answer.url))
    assert message == "Disabled tenant bob-corp: bob can no longer sign in or use API tokens."
    assert "badge-disabled" in operator.get("/tenants/").text

    operator.post(f"/tenants/{bob_corp.pk}/enable/")
    tenant_client.force_login(bob)
    assert tenant_client.get("/my/domains/").status_code == 200
    assert api.get("/api/v1/domains/").status_code == 200


def test_disabling_with_its_domains_switches_them_off_and_says_which_proxies_wait(
    operator, alice, bob_corp, bobs_domain
):
    proxy_create(actor=alice, name="edge", transport="udp", address="127.0.0.1:9")

    operator.post(f"/tenants/{bob_corp.pk}/disable/", {"domains": "on"})

    assert not Domain.objects.get(pk=bobs_domain.pk).enabled
    [message] = flash_messages(operator.get(f"/tenants/{bob_corp.pk}/"))
    assert message.endswith("Switched off 1 of its domains. Not live yet on proxy edge.")
    actions = list(AuditEntry.objects.order_by("-pk").values_list("action", flat=True)[:2])
    assert actions == ["domain.disable", "tenant.disable"]

    operator.post(f"/tenants/{bob_corp.pk}/enable/", {"domains": "on"})
    assert Domain.objects.get(pk=bobs_domain.pk).enabled


# --- moving a domain ---------------------------------------------------------------------------


def test_an_operator_moves_a_domain_to_another_tenant(
    operator, bob_corp, charlie_corp, bobs_domain
):
    form = operator.get(f"/tenants/transfer/?domain={bobs_domain.did}").text
    assert f'value="{bobs_domain.did}"' in form

    answer = operator.post(
        "/tenants/transfer/", {"domain": "sip.bob.example.com", "tenant": "charlie"}
    )

    assert answer.url == f"/tenants/{charlie_corp.pk}/"
    assert Domain.objects.get(pk=bobs_domain.pk).tenant == charlie_corp
    [message] = flash_messages(operator.get(answer.url))
    assert message == (
        "Moved bob.example.com from tenant bob-corp to tenant charlie-corp. "
        "The proxies serve it as before."
    )
    # The old owner's history ends with the move, the new owner's starts with it.
    entries = AuditEntry.objects.filter(action__startswith="domain.tenant").order_by("pk")
    assert [(e.action, e.tenant_id, e.channel) for e in entries] == [
        ("domain.tenant_remove", bob_corp.pk, "web"),
        ("domain.tenant_add", charlie_corp.pk, "web"),
    ]
    assert "bob.example.com" in operator.get(answer.url).text


def test_a_domain_can_leave_every_tenant_and_come_to_one(operator, alice, bob_corp, bobs_domain):
    operator.post("/tenants/transfer/", {"domain": bobs_domain.did, "tenant": ""})
    assert Domain.objects.get(pk=bobs_domain.pk).tenant is None
    assert flash_messages(operator.get("/tenants/"))[0].startswith(
        "Moved bob.example.com from tenant bob-corp to no tenant."
    )

    form = operator.get("/tenants/transfer/?tenant=bob-corp").text
    assert 'value="bob-corp"' in form
    operator.post("/tenants/transfer/", {"domain": "bob.example.com", "tenant": "bob-corp"})
    assert Domain.objects.get(pk=bobs_domain.pk).tenant == bob_corp


def test_moving_a_domain_to_its_own_tenant_changes_nothing(operator, bob_corp, bobs_domain):
    before = written()
    operator.post("/tenants/transfer/", {"domain": "bob.example.com", "tenant": "bob"})
    assert written() == before
    assert flash_messages(operator.get("/tenants/")) == [
        "bob.example.com belongs to tenant bob-corp already: nothing changed."
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"domain": "nowhere.example.com", "tenant": "charlie"}, "domain", "no domain named"),
        ({"domain": "", "tenant": "charlie"}, "domain", "This field is required."),
        ({"domain": "bob.example.com", "tenant": "nobody"}, "tenant", "no tenant named 'nobody'"),
        ({"domain": "ex ample\x00", "tenant": "charlie"}, "domain", "Null characters"),
    ],
)
def test_a_bad_move_is_shown_next_to_its_field_and_nothing_is_written(
    operator, charlie_corp, bobs_domain, data, field, message
):
    before = written()
    answer = operator.post("/tenants/transfer/", data)
    errors = field_errors(answer)
    assert list(errors) == [field] and message in errors[field], errors
    assert written() == before


# --- who may -----------------------------------------------------------------------------------


def urls(tenant: Tenant) -> list[str]:
    pages = ["", "edit/", "password/", "disable/", "enable/"]
    return [
        "/tenants/",
        "/tenants/add/",
        "/tenants/transfer/",
        *(f"/tenants/{tenant.pk}/{page}" for page in pages),
    ]


POSTED = {"name": "X", "owner": "x", "password": PASSWORD, "domain": "bob.example.com"}


@pytest.mark.parametrize("person", ["bob", "charlie"])
def test_tenants_get_404_and_change_nothing(client, bob, charlie, bob_corp, bobs_domain, person):
    client.force_login(bob if person == "bob" else charlie)
    before = written()
    for url in urls(bob_corp):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {**POSTED, "tenant": person}).status_code == 404, url
    assert written() == before


def test_anonymous_visitors_are_sent_to_the_sign_in(client, bob_corp, bobs_domain):
    before = written()
    for url in urls(bob_corp):
        for answer in (client.get(url), client.post(url, POSTED)):
            assert answer.status_code == 302 and answer.url.startswith(f"{SIGN_IN}?next="), url
    assert written() == before


def test_every_form_has_a_token_and_needs_it(operator, bob_corp):
    actions = set()
    for url in urls(bob_corp):
        actions.update(post_forms(operator, url))
    assert f"/tenants/{bob_corp.pk}/disable/" in actions and "/tenants/transfer/" in actions
    for action in actions:
        assert refused_without_token(operator, action), action


def test_an_operator_changes_what_a_tenant_may_hold(client, alice, bob):
    tenant = Tenant.objects.get(owner=bob)
    client.force_login(alice)
    data = {"name": tenant.name, "email": bob.email, "domain_quota": "3"}
    bad = client.post(f"/tenants/{tenant.pk}/edit/", {**data, "pending_claim_limit": "-1"})
    assert "greater than or equal to 0" in field_errors(bad)["pending_claim_limit"]

    page = client.post(
        f"/tenants/{tenant.pk}/edit/", {**data, "pending_claim_limit": "1"}, follow=True
    )

    tenant.refresh_from_db()
    assert (tenant.domain_quota, tenant.pending_claim_limit) == (3, 1)
    assert "It may hold 3 domains and claims together, of which 1 claims waiting" in page.text
    entry = AuditEntry.objects.get(action="tenant.update")
    assert entry.after == {"domain_quota": 3, "pending_claim_limit": 1}
    # Left empty, the limits stay as they are.
    client.post(f"/tenants/{tenant.pk}/edit/", {"name": "renamed", "email": bob.email})
    tenant.refresh_from_db()
    assert (tenant.name, tenant.domain_quota) == ("renamed", 3)


# --- invitations ------------------------------------------------------------------------


def _invitation_link(mail) -> str:
    [link] = re.findall(r"http://testserver/accounts/password/reset/key/\S+", mail.body)
    return link.removeprefix("http://testserver")


def test_an_invited_owner_chooses_its_password_from_the_mailed_link(operator, mailoutbox):
    answer = operator.post(
        "/tenants/add/",
        {"name": "Fay's Phones", "owner": "fay", "email": "fay@t.test", "invite": "on"},
    )
    tenant = Tenant.objects.get(name="Fay's Phones")
    assert answer.status_code == 302
    assert flash_messages(operator.get(answer.url)) == [
        "Created tenant Fay's Phones: fay signs in once it has chosen a password.",
        "Invited fay: a link to choose a password went to fay@t.test.",
    ]
    [mail] = mailoutbox
    assert mail.to == ["fay@t.test"] and "Fay's Phones" in mail.subject
    assert "Your login is fay." in mail.body
    link = _invitation_link(mail)
    entry = AuditEntry.objects.get(action="tenant.invite")
    assert entry.after == {"email": "fay@t.test"} and entry.tenant_id == tenant.pk
    assert link.split("/")[-2] not in json.dumps([entry.before, entry.after])

    owner = Client()
    form = owner.get(link, follow=True)
    assert form.status_code == 200
    chosen = owner.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"password1": PASSWORD, "password2": PASSWORD},
    )
    assert chosen.status_code == 302
    assert authenticate(username="fay", password=PASSWORD) == tenant.owner
    # The link works once.
    again = Client().get(link, follow=True)
    assert "invalid" in again.text.lower()


def test_an_invitation_needs_an_e_mail_address(operator, mailoutbox):
    answer = operator.post("/tenants/add/", {"name": "Gus", "owner": "gus", "invite": "on"})
    assert field_errors(answer)["email"] == "An invitation needs the owner's e-mail address."
    assert not Tenant.objects.filter(name="Gus").exists() and mailoutbox == []


def test_an_operator_invites_again_until_the_owner_signs_in(operator, alice, mailoutbox):
    tenant = tenant_create(actor=alice, name="Hal", owner_username="hal", email="hal@t.test")
    page = operator.get(f"/tenants/{tenant.pk}/")
    assert "Invite hal again" in page.text
    assert operator.get(f"/tenants/{tenant.pk}/invite/").status_code == 405
    answer = operator.post(f"/tenants/{tenant.pk}/invite/", follow=True)
    assert flash_messages(answer) == [
        "Invited hal: a link to choose a password went to hal@t.test."
    ]
    assert len(mailoutbox) == 1
    first = _invitation_link(mailoutbox[0])

    get_user_model().objects.filter(pk=tenant.owner_id).update(email="")
    refused = operator.post(f"/tenants/{tenant.pk}/invite/", follow=True)
    assert flash_messages(refused) == [
        "No invitation was sent: the owner has no e-mail address to invite"
    ]
    assert len(mailoutbox) == 1
    get_user_model().objects.filter(pk=tenant.owner_id).update(email="hal@t.test")
    owner = tenant.owner
    owner.set_password(PASSWORD)
    owner.save()
    assert Client().login(username="hal", password=PASSWORD)
    assert "Invite hal again" not in operator.get(f"/tenants/{tenant.pk}/").text
    # A password chosen since: the first link no longer works.
    assert "invalid" in Client().get(first, follow=True).text.lower()


def test_a_tenant_cannot_invite(client, bob, bob_corp, mailoutbox):
    client.force_login(bob)
    assert client.post(f"/tenants/{bob_corp.pk}/invite/").status_code == 404
    assert mailoutbox == []
