"""Tenant claims as services: the quota and the limit of waiting claims, names another
tenant waits for, the expiry, the periodic purge and the retries of waiting claims."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from domains import services
from domains.dns.claims import (
    claims_purge_expired,
    claims_retry,
    domain_claim_start,
    domain_claim_verify,
    domain_claim_withdraw,
)
from domains.models import Domain, DomainClaim, DomainState, Tenant
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings


@pytest.fixture
def tenant(bob, dns_settings):
    return Tenant.objects.get(owner=bob)


def claim(bob, name: str, **options) -> DomainClaim:
    return domain_claim_start(actor=bob, tenant=bob.tenant, name=name, **options)


def refusal(call) -> str:
    with pytest.raises(ValidationError) as refused:
        call()
    return " ".join(refused.value.messages)


def test_a_new_tenant_gets_the_limits_of_the_settings(settings, db):
    settings.SERWEB_TENANT_DOMAIN_QUOTA = 7
    settings.SERWEB_TENANT_PENDING_CLAIMS = 2
    tenant = services.tenant_create(actor=None, name="acme", owner_username="acme")
    assert (tenant.domain_quota, tenant.pending_claim_limit) == (7, 2)


def test_a_claim_expires_after_the_configured_hours(tenant, bob, settings):
    settings.SERWEB_CLAIM_EXPIRY_HOURS = 5
    started = claim(bob, "voice.test")
    assert started.expires_at - started.created_at == timedelta(hours=5)
    # Asking again is the same claim, with the same token and the same expiry.
    again = claim(bob, "VOICE.test.")
    assert (again.pk, again.token, again.expires_at) == (
        started.pk,
        started.token,
        started.expires_at,
    )


def test_no_more_claims_than_may_wait_at_once(tenant, bob):
    tenant.pending_claim_limit = 2
    tenant.save()
    claim(bob, "one.test")
    claim(bob, "two.test")
    message = refusal(lambda: claim(bob, "three.test"))
    assert "2 of your claims wait for DNS proof" in message
    assert not DomainClaim.objects.filter(name="three.test").exists()
    # Withdrawing one makes room.
    domain_claim_withdraw(actor=bob, claim=DomainClaim.objects.get(name="one.test"))
    assert claim(bob, "three.test").name == "three.test"


def test_domains_and_waiting_claims_count_against_the_quota(tenant, bob, alice):
    tenant.domain_quota = 3
    tenant.save()
    services.domain_create(actor=alice, name="held.test", tenant=tenant)
    removed = services.domain_create(actor=alice, name="gone.test", tenant=tenant)
    services.domain_set_state(actor=alice, domain=removed, state=DomainState.REMOVED)
    claim(bob, "one.test")
    claim(bob, "two.test")
    message = refusal(lambda: claim(bob, "three.test"))
    assert "you hold 3 domains and claims" in message and "quota" in message


def test_a_name_another_tenant_waits_for_is_not_available(tenant, bob, charlie):
    claim(bob, "wanted.test")
    message = refusal(
        lambda: domain_claim_start(actor=charlie, tenant=charlie.tenant, name="wanted.test")
    )
    # Neither who waits nor that anybody does.
    assert message == "wanted.test is not available; ask the operator"


def test_an_expired_claim_frees_the_name(tenant, bob, charlie):
    first = claim(bob, "wanted.test")
    later = first.expires_at + timedelta(seconds=1)
    taken = domain_claim_start(actor=charlie, tenant=charlie.tenant, name="wanted.test", now=later)
    assert taken.tenant == charlie.tenant
    assert not DomainClaim.objects.filter(pk=first.pk).exists()
    expired = AuditEntry.objects.get(action="domain.claim_expire")
    assert expired.tenant == tenant and expired.object_repr == "wanted.test"


def test_the_same_tenant_claiming_an_expired_name_gets_a_new_token(tenant, bob):
    first = claim(bob, "again.test")
    later = first.expires_at + timedelta(minutes=1)
    second = claim(bob, "again.test", now=later)
    assert second.token != first.token
    assert second.expires_at > later


def test_an_expired_claim_is_not_verified(tenant, bob, knot):
    name = knot.unique("late")
    started = claim(bob, name)
    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{started.token}"')
    message = refusal(
        lambda: domain_claim_verify(
            actor=bob, claim=started, now=started.expires_at + timedelta(seconds=1)
        )
    )
    assert "expired" in message
    assert not Domain.objects.filter(did=name).exists()


def test_the_purge_drops_expired_claims_only(tenant, bob, alice):
    old = claim(bob, "old.test")
    DomainClaim.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    fresh = claim(bob, "fresh.test")
    proven = claim(bob, "proven.test")
    DomainClaim.objects.filter(pk=proven.pk).update(
        verified_at=timezone.now(), expires_at=timezone.now() - timedelta(days=3)
    )

    assert claims_purge_expired() == 1
    assert set(DomainClaim.objects.values_list("pk", flat=True)) == {fresh.pk, proven.pk}
    [entry] = AuditEntry.objects.filter(action="domain.claim_expire")
    assert entry.tenant == tenant and entry.actor_role == "system"
    assert old.token not in str(entry.before)


def test_retries_grant_a_waiting_claim_once_its_records_appear(tenant, bob, knot):
    name = knot.unique("retry")
    waiting = claim(bob, name)
    assert claims_retry() == 1
    assert not Domain.objects.filter(did=name).exists()

    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{waiting.token}"')
    claims_retry()
    domain = Domain.objects.get(did=name)
    assert domain.tenant == tenant and domain.state == DomainState.PENDING

    # Proven, its domain waits for the SRV records: the retries go on for it.
    knot.srv(name, PROXY_HOSTNAMES[0])
    claims_retry()
    domain.refresh_from_db()
    assert domain.state == DomainState.ACTIVE


def test_a_proven_claim_cannot_be_withdrawn(tenant, bob, knot):
    name = knot.unique("kept")
    knot.srv(name, PROXY_HOSTNAMES[0])
    started = claim(bob, name)
    knot.add(f"_serweb-challenge.{name}", "TXT", f'"{started.token}"')
    domain_claim_verify(actor=bob, claim=started)
    assert "release the domain" in refusal(lambda: domain_claim_withdraw(actor=bob, claim=started))
