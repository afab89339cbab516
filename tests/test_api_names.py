"""The names of a domain through the API: each host name's DNS lifecycle state, exemption
and last check; operators exempt a name or restore one housekeeping removed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from domains.dns.literals import literals_conclude
from domains.dns.policy import DnsPolicy
from domains.models import DomainName, NameCheck, NameState
from domains.services import domain_create
from tests.api_helpers import client_for, world  # noqa: F401
from tests.helpers import proxy_rows

NAMES = "/api/v1/domains/bob.example/names/"


def check_row(name: str, **fields) -> NameCheck:
    return NameCheck.objects.create(name=DomainName.objects.get(name=name), **fields)


def test_names_show_their_state_exemption_and_last_check(bob, world):  # noqa: F811
    checked = timezone.now()
    check_row(
        "sip.bob.example",
        state=NameState.SUSPECT,
        verdict="absent",
        outcome="negative",
        reason="the domain does not exist (NXDOMAIN)",
        checked_at=checked,
    )

    names = client_for(bob).get(NAMES).json()

    assert names == [
        {
            "name": "bob.example",
            "display": "bob.example",
            "kind": "hostname",
            "is_canonical": True,
            "state": "active",
            "exempt": False,
            "last_check": None,
        },
        {
            "name": "sip.bob.example",
            "display": "sip.bob.example",
            "kind": "hostname",
            "is_canonical": False,
            "state": "suspect",
            "exempt": False,
            "last_check": {
                "checked_at": checked.isoformat().replace("+00:00", "Z"),
                "verdict": "absent",
                "outcome": "negative",
                "reason": "the domain does not exist (NXDOMAIN)",
            },
        },
    ]
    assert client_for(None).get(NAMES).status_code in (401, 403)


def test_an_ip_literal_no_longer_ours_is_reported_disabled(alice, settings):
    settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10"]
    domain = domain_create(actor=None, name="ip.example", aliases=["192.0.2.8", "192.0.2.10"])
    literals_conclude(
        actor=None, domain=domain, policy=DnsPolicy.from_settings(), now=timezone.now()
    )

    names = client_for(alice).get("/api/v1/domains/ip.example/names/").json()

    shown = [(n["name"], n["state"], n["exempt"], (n["last_check"] or {})) for n in names]
    assert [row[:3] for row in shown] == [
        ("ip.example", "active", False),
        ("192.0.2.10", "active", False),
        ("192.0.2.8", "disabled", False),
    ]
    assert shown[2][3]["verdict"] == "foreign"
    assert shown[2][3]["reason"] == "192.0.2.8 is not one of the proxy addresses"
    assert shown[0][3] == {}  # the host name was not looked up in DNS


def test_an_operator_exempts_a_name_and_puts_it_back(alice, world):  # noqa: F811
    check_row("sip.bob.example", state=NameState.DISABLED, negatives=4)
    client = client_for(alice)

    answer = client.patch(f"{NAMES}sip.bob.example/", {"exempt": True}, format="json")

    assert answer.status_code == 200, answer.content
    assert (answer.json()["state"], answer.json()["exempt"]) == ("active", True)
    check = NameCheck.objects.get(name__name="sip.bob.example")
    assert (check.state, check.exempt, check.negatives) == ("active", True, 0)
    entry = AuditEntry.objects.get(action="domain.name_exempt")
    assert (entry.channel, entry.tenant, entry.after["name"]) == (
        "api",
        world["bob_domain"].tenant,
        "sip.bob.example",
    )

    back = client.patch(f"{NAMES}sip.bob.example/", {"exempt": False}, format="json")
    assert (back.status_code, back.json()["exempt"]) == (200, False)
    # A name put back under housekeeping has a first check to come.
    assert NameCheck.objects.get(name__name="sip.bob.example").state == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exempt": "yes"}, "exempt"),
        ({}, "exempt"),
        ({"exempt": True, "state": "active"}, "state"),
    ],
)
def test_bad_exemptions_are_refused_by_field(alice, world, body, field):  # noqa: F811
    answer = client_for(alice).patch(f"{NAMES}sip.bob.example/", body, format="json")

    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not NameCheck.objects.exists()


def test_only_names_of_the_domain_are_exempted(alice, world):  # noqa: F811
    answer = client_for(alice).patch(f"{NAMES}nothere.example/", {"exempt": True}, format="json")

    assert answer.status_code == 400
    assert "is not a name of domain" in answer.json()["fields"]["name"][0]


def test_an_exempt_ip_literal_is_served_whatever_the_addresses(alice, settings):
    settings.SERWEB_PROXY_ADDRESSES = ["192.0.2.10"]
    domain_create(actor=None, name="other.example", aliases=["192.0.2.9"])
    check_row("192.0.2.9", state=NameState.DISABLED, verdict="foreign")
    path = "/api/v1/domains/other.example/names/192.0.2.9/"
    client = client_for(alice)

    answer = client.patch(path, {"exempt": True}, format="json")
    assert answer.status_code == 200, answer.content
    assert (answer.json()["state"], answer.json()["exempt"]) == ("active", True)
    assert proxy_rows("domain", "domain") == [("192.0.2.9",), ("other.example",)]

    # Put back under housekeeping, it is checked at once: no DNS question is needed.
    answer = client.patch(path, {"exempt": False}, format="json")
    assert (answer.json()["state"], answer.json()["exempt"]) == ("disabled", False)
    assert answer.json()["last_check"]["verdict"] == "foreign"
    assert proxy_rows("domain", "domain") == [("other.example",)]
    restore = client.post(f"{path}restore/")
    assert restore.status_code == 400
    assert "is disabled, not removed" in restore.json()["fields"]["name"][0]


def test_tenants_may_not_exempt_or_restore_even_their_own_names(bob, charlie, world):  # noqa: F811
    check_row("sip.bob.example", state=NameState.REMOVED)
    own = client_for(bob)

    exempt = own.patch(f"{NAMES}sip.bob.example/", {"exempt": True}, format="json")
    assert exempt.status_code == 400
    assert "only operators" in exempt.json()["fields"]["exempt"][0]
    # The service's policy answers, as for the exemption: one rule for every door.
    restore = own.post(f"{NAMES}sip.bob.example/restore/")
    assert restore.status_code == 400
    assert "only operators" in restore.json()["fields"]["name"][0]
    # Another tenant's domain is not there at all.
    other = client_for(charlie)
    assert other.patch(f"{NAMES}sip.bob.example/", {"exempt": True}, format="json").status_code == (
        404
    )
    assert other.post(f"{NAMES}sip.bob.example/restore/").status_code == 404
    assert client_for(None).post(f"{NAMES}sip.bob.example/restore/").status_code in (401, 403)
    check = NameCheck.objects.get()
    assert (check.state, check.exempt) == ("removed", False)
    assert not AuditEntry.objects.filter(action__startswith="domain.name_").exists()


def test_an_operator_restores_a_removed_name(alice, world):  # noqa: F811
    client = client_for(alice)
    refused = client.post(f"{NAMES}sip.bob.example/restore/")
    assert refused.status_code == 400
    assert refused.json()["fields"]["name"] == ["sip.bob.example is active, not removed"]

    check_row("sip.bob.example", state=NameState.REMOVED, negatives=5)
    answer = client.post(f"{NAMES}sip.bob.example/restore/")

    assert answer.status_code == 200, answer.content
    # Back under housekeeping; served once DNS points at us (POST verify/ checks now).
    assert answer.json()["state"] == "disabled"
    assert NameCheck.objects.get().negatives == 0
    assert AuditEntry.objects.filter(action="domain.name_restore").count() == 1


def test_the_domain_list_reads_names_and_their_checks_in_constant_queries(alice):
    client = client_for(alice)

    def queries_for_domains(count: int) -> int:
        for index in range(count):
            name = f"n{index}.{count}.example"
            domain_create(actor=None, name=name, aliases=[f"sip.{name}"])
            check_row(f"sip.{name}", state=NameState.SUSPECT, checked_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            answer = client.get("/api/v1/domains/?page_size=100")
        assert answer.status_code == 200
        return len(queries)

    queries_for_domains(0)  # the token's first use is recorded once
    assert queries_for_domains(1) == queries_for_domains(5)
