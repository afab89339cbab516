"""DNS work through the API: a tenant's claim from record to served domain, verification
jobs, a domain's DNS evidence; reloads and proxy status for operators."""

import json

import pytest
from django.conf import settings
from django.utils import timezone

from api import jobs
from api.jobs import job_run
from api.models import Job
from domains.models import DomainState, Tenant
from domains.services import domain_create, domain_delete
from proxies.models import Proxy
from tests import dns_harness
from tests.api_helpers import client_for, world  # noqa: F401
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings

# Jobs start after the commit of the request that asked for them, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(knot, dns_settings):
    """A name whose SRV points at our proxy, not provisioned in serweb."""
    name = knot.unique("claim")
    knot.srv(name, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])
    return name


def test_a_tenant_claims_a_domain_with_a_txt_record(bob, charlie, knot, published, settings):
    client = client_for(bob)
    started = client.post("/api/v1/claims/", {"name": published}, format="json")
    assert started.status_code == 201, started.content
    claim = started.json()
    assert claim["token"] in claim["record"] and claim["domain"] is None
    assert claim["expires_at"]

    # Not published yet: the job is done, and says so, record by record.
    early = client.post(f"/api/v1/claims/{claim['id']}/verify/").json()
    assert early["state"] == "done"
    assert early["result"]["verified"] is False
    assert "token" in early["result"]["claim_result"]
    checks = early["result"]["records"]["checks"]
    seen = {(c["record"]["name"], c["record"]["data"]): c["seen"] for c in checks}
    assert seen[(f"_serweb-challenge.{published}", f'"{claim["token"]}"')] == "missing"
    assert seen[(f"_sip._udp.{published}", f"10 10 5060 {PROXY_HOSTNAMES[0]}.")] == "found"
    assert seen[(f"_sip._udp.{published}", f"10 10 5060 {PROXY_HOSTNAMES[1]}.")] == "missing"

    # Checked a moment ago: not again before the cooldown ends.
    knot.add(f"_serweb-challenge.{published}", "TXT", f'"{claim["token"]}"')
    again = client.post(f"/api/v1/claims/{claim['id']}/verify/")
    assert again.status_code == 429
    assert 0 < int(again["Retry-After"]) <= settings.SERWEB_CHECK_COOLDOWN_SECONDS
    assert "check again in" in again.json()["detail"]

    settings.SERWEB_CHECK_COOLDOWN_SECONDS = 0
    job = client.post(f"/api/v1/claims/{claim['id']}/verify/").json()
    assert job["result"]["verified"] is True, job
    assert job["result"]["to_state"] == DomainState.ACTIVE
    assert client.get(f"/api/v1/jobs/{job['id']}/").json()["state"] == "done"
    assert client.get(f"/api/v1/domains/{published}/").json()["served"] is True

    # Another tenant sees neither the claim, the job nor the domain.
    other = client_for(charlie)
    assert other.get(f"/api/v1/claims/{claim['id']}/").status_code == 404
    assert other.get(f"/api/v1/jobs/{job['id']}/").status_code == 404
    assert other.get(f"/api/v1/domains/{published}/").status_code == 404


def test_operators_create_domains_and_tenants_claim_them(alice, bob, published):
    claim = client_for(alice).post("/api/v1/claims/", {"name": published}, format="json")
    assert claim.status_code == 403
    domain = client_for(bob).post("/api/v1/domains/", {"name": published}, format="json")
    assert domain.status_code == 403
    assert "claims" in domain.json()["detail"]


def test_claims_of_reserved_or_taken_names_are_refused(bob, world, dns_settings):  # noqa: F811
    client = client_for(bob)
    for name, message in [("x.localhost", "never served"), ("op.example", "ask the operator")]:
        refused = client.post("/api/v1/claims/", {"name": name}, format="json")
        assert refused.status_code == 400
        assert message in refused.json()["fields"]["name"][0]


def test_verify_records_evidence(alice, published):
    client = client_for(alice)
    alias = f"sip.{published}"  # nothing published: NXDOMAIN
    client.post("/api/v1/domains/", {"name": published, "aliases": [alias]}, format="json")
    assert client.get(f"/api/v1/domains/{published}/dns/").status_code == 404  # never checked
    job = client.post(f"/api/v1/domains/{published}/verify/").json()
    assert job["state"] == "done" and job["result"]["verdict"] == "ours", job
    assert [(n["name"], n["verdict"], n["to_state"]) for n in job["result"]["names"]] == [
        (published, "ours", "active"),
        (alias, "absent", "suspect"),
    ]
    evidence = client.get(f"/api/v1/domains/{published}/dns/").json()
    assert evidence["verdict"] == "ours"
    assert evidence["checked_at"] is not None
    names = client.get(f"/api/v1/domains/{published}/names/").json()
    assert [(n["state"], n["last_check"]["verdict"]) for n in names] == [
        ("active", "ours"),
        ("suspect", "absent"),
    ]


def test_an_unreachable_resolver_changes_nothing(alice, world):  # noqa: F811
    client = client_for(alice)
    job = client.post("/api/v1/domains/op.example/verify/").json()
    assert job["result"]["verdict"] == "unknown"
    assert client.get("/api/v1/domains/op.example/").json()["state"] == "active"
    assert Job.objects.get().state == Job.State.DONE


def test_reload_and_status_show_what_waits(alice, bob):
    client = client_for(alice)
    # A proxy nobody listens on: the change waits for it, and nothing fails.
    created = client.post(
        "/api/v1/proxies/",
        {"name": "kam1", "transport": "udp", "address": "127.0.0.1:9"},
        format="json",
    )
    assert created.status_code == 201
    domain = client.post("/api/v1/domains/", {"name": "wait.example"}, format="json").json()
    assert domain["pending_proxies"] == ["kam1"]
    answer = client.post("/api/v1/reload/")
    assert answer.status_code == 202
    (status,) = answer.json()
    assert status["name"] == "kam1" and status["state"] in {"pending", "failing"}
    assert client.get("/api/v1/proxy-status/").json()[0]["desired_generation"] >= 1
    assert client_for(bob).post("/api/v1/reload/").status_code == 403
    assert Proxy.objects.get().applied_generation == 0


def test_tenants_see_whether_a_change_is_live_not_which_proxies_wait(alice, bob):
    operator = client_for(alice)
    operator.post(
        "/api/v1/proxies/",
        {"name": "kam1", "transport": "udp", "address": "127.0.0.1:9"},
        format="json",
    )
    body = {"name": "wait.example", "tenant": "bob-corp"}
    created = operator.post("/api/v1/domains/", body, format="json").json()
    assert (created["live"], created["pending_proxies"]) == (False, ["kam1"])

    tenant = client_for(bob)
    detail = tenant.get("/api/v1/domains/wait.example/")
    (listed,) = tenant.get("/api/v1/domains/").json()["results"]
    for shown in (detail.json(), listed):
        assert (shown["live"], shown["pending_proxies"]) == (False, None)
    assert b"kam1" not in detail.content

    Proxy.objects.update(applied_changed_at=timezone.now())
    assert tenant.get("/api/v1/domains/wait.example/").json()["live"] is True
    assert operator.get("/api/v1/domains/wait.example/").json()["pending_proxies"] == []

    schema = operator.get("/api/v1/schema/?format=json").json()
    documented = schema["components"]["schemas"]["DomainOutput"]["properties"]
    assert documented["live"]["type"] == "boolean"
    assert documented["pending_proxies"]["nullable"] is True
    assert "Operators only" in documented["pending_proxies"]["description"]


def test_lookup_for_operators(alice, bob, world):  # noqa: F811
    client = client_for(alice)
    known = client.get("/api/v1/lookup/?host=SIP.bob.example").json()
    assert (known["ours"], known["did"], known["canonical"]) == (True, "bob.example", "bob.example")
    unknown = client.get("/api/v1/lookup/?host=nobody.example.net").json()
    assert unknown["ours"] is False
    assert unknown["ttl"] == settings.SERWEB_LOOKUP_NEGATIVE_TTL
    assert client.get("/api/v1/lookup/?host=bad_name").status_code == 400
    assert client_for(bob).get("/api/v1/lookup/?host=bob.example").status_code == 403


# --- a job that fails says why, as any error answer does ---------------------------------------


def test_a_failed_claim_verification_names_the_field(alice, bob, charlie, knot, dns_settings):
    parent = knot.unique("parent")
    client = client_for(bob)
    claim = client.post("/api/v1/claims/", {"name": f"sip.{parent}"}, format="json").json()
    # Meanwhile the operator serves the parent domain to another tenant.
    domain_create(actor=alice, name=parent, tenant=Tenant.objects.get(owner=charlie))

    job = client.post(f"/api/v1/claims/{claim['id']}/verify/").json()

    message = f"sip.{parent} is not available; ask the operator"
    assert job["state"] == "failed"
    assert job["error"] == {"detail": message, "code": "invalid", "fields": {"name": [message]}}
    assert client.get(f"/api/v1/jobs/{job['id']}/").json()["error"] == job["error"]


def test_a_job_whose_domain_went_says_so(alice):
    domain = domain_create(actor=alice, name="gone.test")
    job = Job.objects.create(
        user=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=domain.pk, target=domain.did
    )
    domain_delete(actor=alice, domain=domain)

    job_run(job.pk)

    job.refresh_from_db()
    assert (job.state, job.error["code"]) == (Job.State.FAILED, "not_found")
    assert job.error["detail"] == "domain gone.test does not exist any more"


def test_an_unexpected_failure_is_logged_not_shown(alice, monkeypatch, caplog):
    domain = domain_create(actor=alice, name="crash.test")

    def crash(**kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(jobs, "domain_verify", crash)
    job = Job.objects.create(
        user=alice, kind=Job.Kind.VERIFY_DOMAIN, target_id=domain.pk, target=domain.did
    )

    job_run(job.pk)

    job.refresh_from_db()
    assert job.error["code"] == "error" and "internal detail" not in json.dumps(job.error)
    assert "internal detail" in caplog.text
