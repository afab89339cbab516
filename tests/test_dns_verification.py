"""Verification services against the Knot test server: one domain now, the lifecycle,
attributes from DNS, tenant claims and reserved names."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from domains import services
from domains.dns.claims import domain_claim_start, domain_claim_verify
from domains.dns.client import Answer, Client, Status
from domains.dns.observation import Outcome, token_published
from domains.dns.policy import DnsPolicy
from domains.dns.sip import Verdict
from domains.dns.verification import domain_dns_managed_set, domain_restore, domain_verify
from domains.models import (
    AttributeSource,
    CheckVerdict,
    DomainCheck,
    DomainClaim,
    DomainOrigin,
    DomainState,
    DomainTransition,
)
from domains.selectors import domain_effective_attributes
from domains.signals import domains_changed
from subscribers.services import subscriber_create
from tests import dns_harness
from tests.dns_harness import PROXY_HOSTNAMES

knot = dns_harness.knot
dns_settings = dns_harness.dns_settings
silent_port = dns_harness.silent_port

HOUR = timedelta(hours=1)


@pytest.fixture
def changes():
    """The dids every domains_changed signal (the reload path) names."""
    seen: list[str] = []

    def receiver(sender, dids, **kwargs):
        seen.extend(dids)

    domains_changed.connect(receiver, dispatch_uid="test-dns-changes")
    yield seen
    domains_changed.disconnect(dispatch_uid="test-dns-changes")


@pytest.fixture
def pointing(knot, dns_settings, alice):
    """An active domain whose SRV points at our first proxy host name."""
    name = knot.unique("v")
    knot.srv(name, PROXY_HOSTNAMES[0], services=["_sip._udp", "_sip._tcp"])
    return services.domain_create(actor=alice, name=name)


def test_verdicts_match_the_stored_choices():
    assert {str(v) for v in Verdict} == set(CheckVerdict.values)


# --- one domain now -------------------------------------------------------------------------


def test_a_domain_that_points_at_us_stays_active_with_its_evidence(pointing):
    result = domain_verify(domain=pointing)

    assert result.verdict == Verdict.OURS
    assert result.outcome == Outcome.POSITIVE
    check = DomainCheck.objects.get(domain=pointing)
    assert check.verdict == "ours"
    assert check.evidence["matched"] == [PROXY_HOSTNAMES[0]]
    srv = {answer["name"]: answer for answer in check.evidence["srv"]}
    assert srv[f"_sip._udp.{pointing.did}"]["records"] == [f"10 10 5060 {PROXY_HOSTNAMES[0]}"]
    assert srv[f"_sips._tcp.{pointing.did}"]["status"] == "nxdomain"
    assert check.expires_at > check.checked_at
    assert not DomainTransition.objects.exists()


def test_the_first_negative_makes_the_domain_suspect_but_still_served(pointing, knot, changes):
    knot.remove(f"_sip._udp.{pointing.did}")
    knot.remove(f"_sip._tcp.{pointing.did}")

    result = domain_verify(domain=pointing)

    pointing.refresh_from_db()
    assert result.verdict == Verdict.ABSENT
    assert pointing.state == DomainState.SUSPECT
    assert pointing.is_served
    transition = DomainTransition.objects.get(domain=pointing, name="")
    assert (transition.from_state, transition.to_state) == ("active", "suspect")
    # Nothing left under the name: the search ended at its NXDOMAIN.
    assert transition.evidence["naptr"]["status"] == "nxdomain"
    assert AuditEntry.objects.filter(action="domain.state_suspect", did=pointing.did).exists()
    # Every transition takes the reload path.
    assert changes == [pointing.did]


def test_an_unknown_answer_changes_no_state_and_no_counter(pointing, dns_settings, silent_port):
    dns_settings.SERWEB_DNS_NAMESERVERS = [silent_port.nameserver]

    result = domain_verify(domain=pointing)

    pointing.refresh_from_db()
    check = DomainCheck.objects.get(domain=pointing)
    assert result.outcome == Outcome.UNKNOWN
    assert pointing.state == DomainState.ACTIVE
    assert (check.unknowns, check.negatives) == (1, 0)


def test_a_domain_with_only_ip_names_cannot_be_verified(dns_settings, alice):
    domain = services.domain_create(actor=alice, name="192.0.2.50", did="by-address")

    with pytest.raises(ValidationError, match="no host name"):
        domain_verify(domain=domain)


def test_the_whole_lifecycle_with_injected_time(pointing, knot, alice):
    subscriber_create(actor=alice, domain=pointing, username="carol", password="secret-pass")
    services.domain_attribute_set(actor=alice, domain=pointing, name="max_contacts", value="5")
    t0 = timezone.now()
    knot.remove(f"_sip._udp.{pointing.did}")
    knot.remove(f"_sip._tcp.{pointing.did}")

    def verify_at(hours: float) -> str:
        domain_verify(domain=pointing, now=t0 + hours * HOUR)
        pointing.refresh_from_db()
        return pointing.state

    assert verify_at(0) == "suspect"
    assert verify_at(1) == "suspect"  # inside the 6 h spacing: not counted
    assert DomainCheck.objects.get(domain=pointing).negatives == 1
    assert verify_at(7) == "suspect"
    assert verify_at(13) == "suspect"  # three negatives, but the first is not 72 h old
    assert verify_at(73) == "disabled"  # confirmed by the authoritative server
    transition = DomainTransition.objects.filter(to_state="disabled", name="").get()
    assert transition.evidence["authority"]["confirmed"] is True
    assert not pointing.is_served
    # The second grace runs from the transition (stamped with the real time, about t0).
    assert verify_at(24 * 29) == "disabled"
    assert verify_at(24 * 31) == "removed"
    # Removed softly: users and attributes are all there.
    assert pointing.subscribers.count() == 1
    assert pointing.attributes.filter(name="max_contacts").exists()


def test_a_disabled_domain_comes_back_when_its_srv_does(pointing, knot, alice):
    subscriber_create(actor=alice, domain=pointing, username="dave", password="secret-pass")
    t0 = timezone.now()
    knot.remove(f"_sip._udp.{pointing.did}")
    knot.remove(f"_sip._tcp.{pointing.did}")
    for hours in (0, 7, 14, 80):
        domain_verify(domain=pointing, now=t0 + hours * HOUR)
    pointing.refresh_from_db()
    assert pointing.state == DomainState.DISABLED

    knot.srv(pointing.did, PROXY_HOSTNAMES[1])
    domain_verify(domain=pointing, now=t0 + 90 * HOUR)

    pointing.refresh_from_db()
    assert pointing.state == DomainState.ACTIVE
    assert pointing.subscribers.count() == 1
    assert DomainCheck.objects.get(domain=pointing).negatives == 0


class StaleResolver:
    """A resolver that says the domain's SIP records are gone while its authoritative
    server still has them (a stale negative cache)."""

    def __init__(self, client: Client, domain: str) -> None:
        self.client = client
        self.domain = domain
        self.queries = 0

    async def __aenter__(self):
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc_info):
        await self.client.__aexit__(*exc_info)

    async def query(self, name: str, rdtype: str) -> Answer:
        self.queries += 1
        if rdtype in ("NAPTR", "SRV") and name.endswith(self.domain):
            return Answer(name, rdtype, Status.NXDOMAIN)
        return await self.client.query(name, rdtype)


def test_no_disable_when_the_authoritative_servers_disagree(pointing):
    policy = DnsPolicy.from_settings()
    t0 = timezone.now()
    for hours in (0, 7, 14, 80):
        stale = StaleResolver(policy.client(), pointing.did)
        result = domain_verify(domain=pointing, now=t0 + hours * HOUR, client=stale)

    pointing.refresh_from_db()
    assert pointing.state == DomainState.SUSPECT
    assert "authoritative servers disagree" in result.note
    assert DomainCheck.objects.get(domain=pointing).evidence["authority"]["confirmed"] is False


def test_a_removed_domain_is_restored_by_the_operator(pointing, knot, alice):
    services.domain_set_state(actor=alice, domain=pointing, state=DomainState.REMOVED)

    result = domain_restore(actor=alice, domain=pointing)

    assert result.to_state == DomainState.ACTIVE
    with pytest.raises(ValidationError, match="not removed"):
        domain_restore(actor=alice, domain=pointing)


def test_the_operator_can_take_a_domain_out_of_housekeeping(pointing, alice):
    check = domain_dns_managed_set(actor=alice, domain=pointing, managed=False)

    assert check.managed is False
    assert AuditEntry.objects.get(action="domain.dns_managed").after == {"dns_managed": False}


# --- attributes from DNS ----------------------------------------------------------------------


def publish_config(knot, domain: str, *records: str) -> None:
    knot.remove(f"_serweb-config.{domain}", "TXT")
    if records:
        knot.add(f"_serweb-config.{domain}", "TXT", *records)


def dns_values(domain) -> dict[str, str]:
    return dict(domain.attributes.filter(source=AttributeSource.DNS).values_list("name", "value"))


def test_attributes_are_imported_with_multi_string_records(pointing, knot):
    publish_config(
        knot,
        pointing.did,
        '"display_name=Main" "Office"',
        '"peering-policy=CLOSED"',
        f'"realm={pointing.did}"',
        '"max_contacts=" "7"',
    )

    result = domain_verify(domain=pointing)

    assert result.attributes.status == "imported"
    assert dns_values(pointing) == {
        "display_name": "MainOffice",
        "peering_policy": "closed",
        "realm": pointing.did,
        "max_contacts": "7",
    }
    assert AuditEntry.objects.filter(action="domain.attr_set", did=pointing.did).count() == 4
    assert domain_verify(domain=pointing).attributes.status == "unchanged"


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('"max_contacts=5000"', "between 0 and 1000"),
        ('"peering_policy=sometimes"', "must be one of"),
        ('"colour=blue"', "not an attribute serweb takes from DNS"),
        ('"allow_register=0"', "not an attribute serweb takes from DNS"),
        ('"did=other.test"', "never taken from DNS"),
        ('"realm=`quoted`"', "backquote"),
        ('"display_name=two words"', "not allowed in a value"),
        ('"display_name=\\"x\\""', "not allowed in a value"),
        ('"no-equals-sign"', "no '='"),
        ('"=value"', "empty attribute name"),
        ('"display_name=caf\\195\\169"', "non-ASCII"),
        ('"realm=foreign-realm.test"', "not a verified domain of the same owner"),
        (f'"display_name=" "{"x" * 200}" "{"x" * 100}"', "a record of"),
    ],
)
def test_a_bad_record_is_reported_and_nothing_is_imported(pointing, knot, record, problem):
    publish_config(knot, pointing.did, '"digest_qop=none"', record)

    result = domain_verify(domain=pointing)

    assert result.attributes.status == "refused"
    assert any(problem in p for p in result.attributes.problems), result.attributes.problems
    assert dns_values(pointing) == {}
    evidence = DomainCheck.objects.get(domain=pointing).evidence
    assert evidence["attributes"]["status"] == "refused"


def test_a_name_given_twice_refuses_the_whole_set(pointing, knot):
    publish_config(knot, pointing.did, '"max_contacts=1"', '"MAX_CONTACTS=2"')

    result = domain_verify(domain=pointing)

    assert result.attributes.problems == ["max_contacts: given twice"]
    assert dns_values(pointing) == {}


def test_the_operators_value_wins_over_the_one_from_dns(pointing, knot, alice):
    services.domain_attribute_set(
        actor=alice, domain=pointing, name="peering_policy", value="listed"
    )
    publish_config(knot, pointing.did, '"peering_policy=closed"')

    domain_verify(domain=pointing)

    assert dns_values(pointing) == {"peering_policy": "closed"}
    winner = domain_effective_attributes(pointing)["peering_policy"]
    assert (winner.value, winner.source) == ("listed", "operator")


def test_no_config_published_keeps_the_values_and_a_smaller_set_drops_the_rest(pointing, knot):
    publish_config(knot, pointing.did, '"max_contacts=3"', '"digest_qop=none"')
    domain_verify(domain=pointing)

    publish_config(knot, pointing.did)
    assert domain_verify(domain=pointing).attributes.status == "nothing published"
    assert dns_values(pointing) == {"max_contacts": "3", "digest_qop": "none"}

    publish_config(knot, pointing.did, '"max_contacts=4"')
    domain_verify(domain=pointing)
    assert dns_values(pointing) == {"max_contacts": "4"}


def test_a_realm_that_would_strand_passwords_is_refused(pointing, knot, alice):
    subscriber_create(actor=alice, domain=pointing, username="erin", password="secret-pass")
    services.domain_name_add(actor=alice, domain=pointing, name=f"alias.{pointing.did}")
    publish_config(knot, pointing.did, f'"realm=alias.{pointing.did}"')

    result = domain_verify(domain=pointing)

    assert result.attributes.status == "refused"
    assert "new passwords" in result.attributes.problems[0]
    assert dns_values(pointing) == {}


# --- tenant claims, ownership and reserved names ------------------------------------------------


@pytest.fixture
def tenant(bob):
    return bob.tenant


def publish_token(knot, claim: DomainClaim) -> None:
    knot.add(f"_serweb-challenge.{claim.name}", "TXT", f'"{claim.token}"')


def test_a_claim_gives_a_long_random_token_and_audits_without_it(tenant, dns_settings, bob):
    claim = domain_claim_start(actor=bob, tenant=tenant, name="Claimed.Example.TEST.")

    assert claim.name == "claimed.example.test"
    assert len(claim.token) >= 32  # 24 random bytes
    assert claim.token != domain_claim_start(actor=bob, tenant=tenant, name="other.test").token
    entry = AuditEntry.objects.get(action="domain.claim_start", object_repr=claim.name)
    assert claim.token not in str(entry.after)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("printer.local", "never served"),
        ("box.localhost", "never served"),
        ("x.invalid", "never served"),
        ("sip.operator.test", "never served"),
        ("192.0.2.7", "IP address"),
        ("bad_name.test", "not a valid domain name"),
    ],
)
def test_names_serweb_never_serves_are_refused(tenant, dns_settings, bob, name, message):
    with pytest.raises(ValidationError, match=message):
        domain_claim_start(actor=bob, tenant=tenant, name=name)


def test_reserved_suffixes_match_whole_labels_only(tenant, dns_settings, bob):
    assert (
        domain_claim_start(actor=bob, tenant=tenant, name="notlocal.test").name == "notlocal.test"
    )


def test_a_name_under_another_tenants_domain_is_refused(tenant, dns_settings, alice, charlie):
    services.domain_create(actor=alice, name="owned.test", tenant=tenant)

    # The same refusal for a name under another tenant's domain and for a served one,
    # naming neither the parent domain nor its tenant.
    for name in ["sip.owned.test", "owned.test"]:
        with pytest.raises(ValidationError) as refused:
            domain_claim_start(actor=charlie, tenant=charlie.tenant, name=name)
        assert refused.value.messages == [f"{name} is not available; ask the operator"]


def test_a_claim_without_the_token_is_not_granted(tenant, knot, dns_settings, bob):
    name = knot.unique("c")
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim = domain_claim_start(actor=bob, tenant=tenant, name=name)
    knot.add(f"_serweb-challenge.{name}", "TXT", '"not-the-token"')

    assert domain_claim_verify(actor=bob, claim=claim) is None

    claim.refresh_from_db()
    assert "token is not in TXT" in claim.result
    assert claim.domain is None


def test_a_claim_with_the_token_and_srv_becomes_an_active_tenant_domain(
    tenant, knot, dns_settings, bob
):
    name = knot.unique("c")
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim = domain_claim_start(actor=bob, tenant=tenant, name=name)
    publish_token(knot, claim)

    result = domain_claim_verify(actor=bob, claim=claim)

    claim.refresh_from_db()
    domain = claim.domain
    assert result.to_state == DomainState.ACTIVE
    assert (domain.tenant, domain.origin, domain.state) == (tenant, DomainOrigin.TENANT, "active")
    assert DomainCheck.objects.get(domain=domain).evidence["ownership"]["status"] == "proven"
    # Verifying the claim again verifies its domain.
    assert domain_claim_verify(actor=bob, claim=claim).did == domain.did


def test_a_claim_of_a_name_served_since_it_started_does_not_say_whose(
    tenant, knot, dns_settings, alice, bob
):
    name = knot.unique("c")
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim = domain_claim_start(actor=bob, tenant=tenant, name=name)
    publish_token(knot, claim)
    services.domain_create(actor=alice, name="other-did.test", aliases=[name])

    with pytest.raises(ValidationError) as refused:
        domain_claim_verify(actor=bob, claim=claim)

    assert refused.value.messages == [f"{name} is not available; ask the operator"]
    claim.refresh_from_db()
    assert claim.domain is None


def test_a_claim_with_the_token_but_no_srv_waits_pending(tenant, knot, dns_settings, bob):
    name = knot.unique("c")
    knot.add(name, "TXT", '"something"')
    claim = domain_claim_start(actor=bob, tenant=tenant, name=name)
    publish_token(knot, claim)

    result = domain_claim_verify(actor=bob, claim=claim)

    assert result.to_state == DomainState.PENDING
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim.refresh_from_db()
    assert domain_verify(domain=claim.domain).to_state == DomainState.ACTIVE


def test_a_tenant_domain_whose_token_goes_away_turns_suspect(tenant, knot, dns_settings, bob):
    name = knot.unique("c")
    knot.srv(name, PROXY_HOSTNAMES[0])
    claim = domain_claim_start(actor=bob, tenant=tenant, name=name)
    publish_token(knot, claim)
    domain_claim_verify(actor=bob, claim=claim)
    claim.refresh_from_db()

    knot.remove(f"_serweb-challenge.{name}", "TXT")
    result = domain_verify(domain=claim.domain)

    assert result.verdict == Verdict.OURS
    assert result.outcome == Outcome.NEGATIVE
    assert result.to_state == DomainState.SUSPECT
    assert "token is not in TXT" in result.observation.reason


def test_tokens_are_compared_exactly():
    assert token_published([b"other", b"abc123"], "abc123")
    assert not token_published([b"abc1234", b"ABC123", b""], "abc123")
    assert not token_published([], "abc123")
