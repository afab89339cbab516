"""The `domain` command, the behaviour every command shares, and the `serweb` console script.

Commands run through call_command here; the console-script tests start the real
`serweb` in a subprocess.
"""

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditEntry
from domains.models import (
    AttributeSource,
    AttributeType,
    Domain,
    DomainAttribute,
    DomainName,
    DomainState,
)
from domains.services import domain_attribute_set, domain_create, domain_set_state
from proxies.models import ReloadState
from subscribers.models import Subscriber, UserAlias
from subscribers.services import subscriber_create, user_alias_add
from tests.helpers import proxy_relation, proxy_rows

BASE_DIR = Path(__file__).resolve().parent.parent
SERWEB = Path(sys.executable).parent / "serweb"
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def postgres_only(test):
    """Marked for `-m "not postgres"`, and skipped when the suite runs on SQLite anyway."""
    skip = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")
    return pytest.mark.postgres(skip(test))


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run(*args: str, stdin: str | None = None) -> Outcome:
    """Run a command as `manage.py` would; a CommandError becomes its exit code and message."""
    out, err = io.StringIO(), io.StringIO()
    options = {"stdout": out, "stderr": err}
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    try:
        call_command(*args, **options)
    except CommandError as exc:
        return Outcome(exc.returncode, out.getvalue(), err.getvalue() + f"error: {exc}\n")
    return Outcome(0, out.getvalue(), err.getvalue())


def snapshot() -> dict:
    """Everything a refused command must leave as it was."""
    state = ReloadState.objects.filter(pk=1).first()
    return {
        "domains": list(Domain.objects.values_list("did", "enabled", "state")),
        "names": list(DomainName.objects.values_list("name", "is_canonical", "domain__did")),
        "attributes": list(DomainAttribute.objects.values_list("name", "value", "source")),
        "subscribers": list(Subscriber.objects.values_list("username", "ha1", "ha1b")),
        "aliases": list(UserAlias.objects.values_list("username", "subscriber__username")),
        "audit": AuditEntry.objects.count(),
        "generation": state.desired_generation if state else 0,
    }


def proxy_count(relation: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {proxy_relation(relation)}")
        return cursor.fetchone()[0]


@pytest.fixture
def example_org(db):
    """A domain already there: example.org, also known as sip.example.org and 192.0.2.10."""
    return domain_create(actor=None, name="example.org", aliases=["sip.example.org", "192.0.2.10"])


@pytest.fixture
def carol(example_org):
    return subscriber_create(
        actor=None, domain=example_org, username="carol", password="carol-secret"
    )


# --- domain add -------------------------------------------------------------------------


def test_domain_add_creates_the_domain_with_its_names_and_attributes(db):
    result = run(
        "domain",
        "add",
        "Example.COM.",
        "--alias",
        "sip.example.com",
        "--alias",
        "192.0.2.7",
        "--attr",
        "max_contacts=5",
        "--attr",
        "display_name=Example = Inc",
    )

    assert result.code == 0, result.err
    assert result.out == "created domain example.com: example.com, 192.0.2.7, sip.example.com\n"
    domain = Domain.objects.get()
    assert (domain.did, domain.enabled, domain.state) == ("example.com", True, "active")
    assert sorted(domain.names.values_list("name", "kind", "is_canonical")) == [
        ("192.0.2.7", "ipv4", False),
        ("example.com", "hostname", True),
        ("sip.example.com", "hostname", False),
    ]
    assert sorted(domain.attributes.values_list("name", "type", "value")) == [
        ("display_name", AttributeType.STRING, "Example = Inc"),
        ("max_contacts", AttributeType.INTEGER, "5"),
    ]
    assert proxy_rows("domain", "domain, did") == [
        ("192.0.2.7", "example.com"),
        ("example.com", "example.com"),
        ("sip.example.com", "example.com"),
    ]
    assert proxy_rows("domain_attrs", "did, name, type, value") == [
        ("example.com", "display_name", 2, "Example = Inc"),
        ("example.com", "max_contacts", 0, "5"),
    ]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.actor, entry.did) == (
        "domain.create",
        "cli",
        None,
        "example.com",
    )
    assert ReloadState.objects.get(pk=1).desired_generation == 1


def test_domain_add_with_a_did_of_its_own_and_disabled(db):
    result = run("domain", "add", "192.0.2.1", "--did", "corp_1", "--disabled")

    assert result.code == 0, result.err
    assert result.out == "created domain corp_1 (disabled): 192.0.2.1\n"
    domain = Domain.objects.get()
    assert (domain.did, domain.enabled) == ("corp_1", False)
    assert domain.names.get().is_canonical
    assert proxy_count("domain") == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["a" * 60 + ".test"], "65 characters in DNS form; the proxy's tables hold at most 64"),
        (["ok.test", "--alias", "b" * 60 + ".test"], "65 characters in DNS form"),
        (["bad_label.example.com"], "not a valid domain name"),
        (["--", "-bad.example.com"], "is not a valid host name label"),
        (["bad..example.com"], "empty label in domain name"),
        ([""], "the domain name is empty"),
        (["localhost"], "a SIP domain needs at least two labels"),
        (["example.org"], "example.org already belongs to domain example.org"),
        (["new.test", "--alias", "SIP.example.org"], "sip.example.org already belongs to domain"),
        (["new.test", "--alias", "192.0.2.10"], "192.0.2.10 already belongs to domain example.org"),
        (["new.test", "--alias", "new.test"], "new.test is given twice"),
        (["new.test", "--did", "example.org"], "domain id example.org is taken"),
        (["new.test", "--did", "bad did"], "domain id 'bad did'"),
        (["192.0.2.99"], "an IP address cannot be a domain's canonical name"),
    ],
)
def test_domain_add_refuses_bad_names_and_writes_nothing(example_org, args, message):
    before = snapshot()

    result = run("domain", "add", *args)

    assert result.code == 1
    assert message in result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert result.out == ""
    assert snapshot() == before


@pytest.mark.parametrize(
    "attr, message",
    [
        ("max_contacts", "'max_contacts': expected KEY=VALUE"),
        ("=5", "expected KEY=VALUE"),
        ("max_contacts=lots", "attr: max_contacts: 'lots' is not an integer"),
        ("max_contacts=5000", "attr: max_contacts: must be between 0 and 1000"),
        ("9lives=1", "attr: attribute name '9lives'"),
        ("display_name=", "attr: display_name: the value is empty"),
    ],
)
def test_domain_add_refuses_bad_attributes_and_writes_nothing(db, attr, message):
    before = snapshot()

    result = run("domain", "add", "example.com", "--attr", attr)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


def test_an_attribute_given_twice_is_refused(db):
    result = run(
        "domain", "add", "example.com", "--attr", "max_contacts=1", "--attr", "MAX_CONTACTS=2"
    )

    assert result.code == 1
    assert "attribute max_contacts is given twice" in result.err
    assert not Domain.objects.exists()


# --- finding domains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nowhere.test"],
        ["rm", "nowhere.test"],
        ["rm", "nowhere.test", "--force"],
        ["enable", "nowhere.test"],
        ["disable", "nowhere.test"],
        ["alias", "add", "nowhere.test", "x.nowhere.test"],
        ["alias", "rm", "nowhere.test", "x.nowhere.test"],
        ["canonical", "nowhere.test", "x.nowhere.test"],
        ["attr", "set", "nowhere.test", "max_contacts=1"],
        ["attr", "unset", "nowhere.test", "max_contacts"],
    ],
)
def test_an_unknown_domain_is_an_error(example_org, args):
    before = snapshot()

    result = run("domain", *args)

    assert result.code == 1
    assert result.err == "error: no domain named 'nowhere.test'\n"
    assert snapshot() == before


@pytest.mark.parametrize("name", ["example.org", "SIP.Example.Org.", "192.0.2.10", "corp_1"])
def test_any_name_or_the_did_stands_for_the_domain(db, name):
    domain_create(
        actor=None, name="example.org", aliases=["sip.example.org", "192.0.2.10"], did="corp_1"
    )

    result = run("domain", "show", name, "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["did"] == "corp_1"


# --- domain show / list -------------------------------------------------------------------


def test_domain_show_tells_everything_about_the_domain(example_org, carol, bob):
    example_org.tenant = bob.tenant
    example_org.save(update_fields=["tenant"])
    user_alias_add(actor=None, domain=example_org, username="1000", subscriber=carol)
    domain_attribute_set(actor=None, domain=example_org, name="max_contacts", value="3")
    domain_attribute_set(
        actor=None, domain=example_org, name="max_contacts", value="9", source="dns"
    )
    domain_attribute_set(
        actor=None, domain=example_org, name="display_name", value="Org", source="dns"
    )
    domain_attribute_set(actor=None, domain=example_org, name="digest_qop", value="auth")

    result = run("domain", "show", "sip.example.org")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "did:          example.org",
        "state:        active",
        "enabled:      yes",
        "served:       yes",
        "origin:       operator",
        "tenant:       bob-corp",
        "canonical:    example.org",
        "names:        example.org [hostname, canonical] active, not checked yet",
        "              192.0.2.10 [ipv4] active, not checked yet",
        "              sip.example.org [hostname] active, not checked yet",
        "attributes:   digest_qop=auth [string, from operator, the default: not sent to the proxy]",
        "              display_name=Org [string, from dns]",
        "              max_contacts=3 [integer, from operator]",
        "subscribers:  1",
        "user aliases: 1",
    ]

    details = json.loads(run("domain", "show", "example.org", "--json").out)
    assert details == {
        "did": "example.org",
        "state": "active",
        "enabled": True,
        "served": True,
        "origin": "operator",
        "tenant": "bob-corp",
        "canonical": "example.org",
        "names": [
            {
                "name": "example.org",
                "kind": "hostname",
                "canonical": True,
                "state": "active",
                "state_changed_at": None,
                "exempt": False,
                "last_check": None,
            },
            {
                "name": "192.0.2.10",
                "kind": "ipv4",
                "canonical": False,
                "state": "active",
                "state_changed_at": None,
                "exempt": False,
                "last_check": None,
            },
            {
                "name": "sip.example.org",
                "kind": "hostname",
                "canonical": False,
                "state": "active",
                "state_changed_at": None,
                "exempt": False,
                "last_check": None,
            },
        ],
        "attributes": [
            {
                "name": "digest_qop",
                "value": "auth",
                "type": "string",
                "source": "operator",
                "default": True,
            },
            {
                "name": "display_name",
                "value": "Org",
                "type": "string",
                "source": "dns",
                "default": False,
            },
            {
                "name": "max_contacts",
                "value": "3",
                "type": "integer",
                "source": "operator",
                "default": False,
            },
        ],
        "subscribers": 1,
        "user_aliases": 1,
        "dns_history": [],
    }


def test_domain_show_gives_the_unicode_form_of_an_idn(db):
    run("domain", "add", "straße.example")

    result = run("domain", "show", "STRASSE.example")  # another domain: not found
    assert result.code == 1

    result = run("domain", "show", "straße.example")
    assert (
        "names:        xn--strae-oqa.example (straße.example) [hostname, canonical] active"
        in result.out
    )


def test_domain_list_gives_one_line_per_domain(example_org):
    domain_create(actor=None, name="b.example.net", enabled=False)
    pending = domain_create(actor=None, name="c.example.net", aliases=["sip.c.example.net"])
    domain_set_state(actor=None, domain=pending, state=DomainState.PENDING)

    result = run("domain", "list")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "b.example.net active disabled b.example.net 1 name",
        "c.example.net pending enabled c.example.net 2 names",
        "example.org active enabled example.org 3 names",
    ]
    assert run("domain", "list", "--state", "pending").out == (
        "c.example.net pending enabled c.example.net 2 names\n"
    )
    assert json.loads(run("domain", "list", "--state", "active", "--json").out) == [
        {
            "did": "b.example.net",
            "state": "active",
            "enabled": False,
            "canonical": "b.example.net",
            "name_count": 1,
        },
        {
            "did": "example.org",
            "state": "active",
            "enabled": True,
            "canonical": "example.org",
            "name_count": 3,
        },
    ]
    assert run("domain", "list", "--state", "removed").out == ""


# --- names --------------------------------------------------------------------------------


def test_domain_alias_add_and_rm(example_org):
    result = run("domain", "alias", "add", "example.org", "VOIP.example.org")

    assert result.code == 0, result.err
    assert result.out == "added voip.example.org to domain example.org\n"
    assert ("voip.example.org", "example.org") in proxy_rows("domain", "domain, did")

    result = run("domain", "alias", "rm", "voip.example.org", "sip.example.org")

    assert result.code == 0, result.err
    assert result.out == "removed sip.example.org from domain example.org\n"
    assert sorted(example_org.names.values_list("name", flat=True)) == [
        "192.0.2.10",
        "example.org",
        "voip.example.org",
    ]
    assert [e.action for e in AuditEntry.objects.filter(channel="cli").order_by("id")] == [
        "domain.alias_add",
        "domain.alias_remove",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["alias", "add", "example.org", "example.net"], "example.net already belongs to domain"),
        (["alias", "add", "example.org", "sip.example.org"], "already a name of this domain"),
        (["alias", "add", "example.org", "c" * 60 + ".test"], "65 characters in DNS form"),
        (["alias", "add", "example.org", "bad_label.test"], "not a valid domain name"),
        (["alias", "add", "example.org", ""], "the domain name is empty"),
        (["alias", "rm", "example.org", "example.net"], "example.net is not a name of domain"),
        (["canonical", "example.org", "example.net"], "example.net is not a name of domain"),
        (["canonical", "example.org", "192.0.2.10"], "an IP address cannot be the canonical"),
    ],
)
def test_bad_name_changes_are_refused(example_org, args, message):
    domain_create(actor=None, name="example.net")
    before = snapshot()

    result = run("domain", *args)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


def test_the_last_name_cannot_be_removed(db):
    domain_create(actor=None, name="solo.example.com")

    result = run("domain", "alias", "rm", "solo.example.com", "solo.example.com")

    assert result.code == 1
    assert "is the only name of domain solo.example.com; delete the domain instead" in result.err
    assert DomainName.objects.filter(name="solo.example.com").exists()


def test_removing_the_canonical_name_says_which_name_took_over(example_org):
    result = run("domain", "alias", "rm", "example.org", "example.org")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "removed example.org from domain example.org",
        "sip.example.org is now the canonical name",
    ]
    assert example_org.names.get(is_canonical=True).name == "sip.example.org"


def test_domain_canonical_changes_the_name_people_see_not_the_did(example_org, carol):
    result = run("domain", "canonical", "example.org", "sip.example.org")

    assert result.code == 0, result.err
    assert result.out == "sip.example.org is the canonical name of domain example.org\n"
    example_org.refresh_from_db()
    assert example_org.did == "example.org"
    assert example_org.names.get(is_canonical=True).name == "sip.example.org"
    # The hashes keep working: realm and did are untouched.
    assert proxy_rows("subscriber", "username, domain") == [("carol", "example.org")]


# --- attributes ---------------------------------------------------------------------------


def test_domain_attr_set_and_unset(example_org):
    result = run("domain", "attr", "set", "sip.example.org", "MAX_CONTACTS=7")

    assert result.code == 0, result.err
    assert result.out == "set max_contacts=7 on domain example.org\n"
    assert proxy_rows("domain_attrs", "did, name, type, value") == [
        ("example.org", "max_contacts", 0, "7")
    ]

    result = run("domain", "attr", "set", "example.org", "max_contacts=0")

    assert result.out == (
        "set max_contacts=0 on domain example.org (the default: not sent to the proxy)\n"
    )
    assert example_org.attributes.get().value == "0"
    assert proxy_rows("domain_attrs", "name") == []

    result = run("domain", "attr", "unset", "example.org", "max_contacts")

    assert result.code == 0, result.err
    assert result.out == "unset max_contacts on domain example.org\n"
    assert not example_org.attributes.exists()


def test_domain_attr_set_types_unknown_attributes_with_int(example_org):
    assert run("domain", "attr", "set", "example.org", "codec_id=12", "--int").code == 0
    assert run("domain", "attr", "set", "example.org", "codec_name=12").code == 0

    assert sorted(example_org.attributes.values_list("name", "type", "value")) == [
        ("codec_id", AttributeType.INTEGER, "12"),
        ("codec_name", AttributeType.STRING, "12"),
    ]
    result = run("domain", "attr", "set", "example.org", "codec_id=twelve", "--int")
    assert result.code == 1
    assert "value: codec_id: 'twelve' is not an integer" in result.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["set", "example.org", "max_contacts"], "'max_contacts': expected KEY=VALUE"),
        (["set", "example.org", "max_contacts=-1"], "value: max_contacts: must be between"),
        (["set", "example.org", "display_name=x", "--int"], "display_name is a string attribute"),
        (["set", "example.org", "realm=192.0.2.1"], "a realm must be a domain name"),
        (["unset", "example.org", "max_contacts"], "has no operator attribute 'max_contacts'"),
    ],
)
def test_bad_attribute_changes_are_refused(example_org, args, message):
    before = snapshot()

    result = run("domain", "attr", *args)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


def test_a_realm_change_that_strands_passwords_needs_consent(example_org, carol):
    before = snapshot()

    result = run("domain", "attr", "set", "example.org", "realm=voice.example.org")

    assert result.code == 1
    assert "invalidates the stored passwords of 1 subscriber(s)" in result.err
    assert "(--accept-password-reset)" in result.err
    assert snapshot() == before

    result = run(
        "domain", "attr", "set", "example.org", "realm=voice.example.org", "--accept-password-reset"
    )

    assert result.code == 0, result.err
    assert example_org.attributes.get(name="realm").value == "voice.example.org"
    carol.refresh_from_db()
    assert carol.ha1_realm == "example.org"  # stranded, as consented to

    # dave's hashes are made for the new realm; going back strands them in turn.
    subscriber_create(actor=None, domain=example_org, username="dave", password="dave-secret")
    result = run("domain", "attr", "unset", "example.org", "realm")

    assert result.code == 1
    assert "invalidates the stored passwords of 1 subscriber(s)" in result.err
    assert "(--accept-password-reset)" in result.err
    assert example_org.attributes.filter(name="realm").exists()

    result = run("domain", "attr", "unset", "example.org", "realm", "--accept-password-reset")

    assert result.code == 0, result.err
    assert not example_org.attributes.filter(name="realm").exists()


def test_a_realm_change_without_subscribers_needs_no_consent(example_org):
    result = run("domain", "attr", "set", "example.org", "realm=voice.example.org")

    assert result.code == 0, result.err
    assert example_org.attributes.get(name="realm", source=AttributeSource.OPERATOR)


# --- enable, disable, rm ------------------------------------------------------------------


def test_disable_and_enable_change_what_the_proxy_sees(example_org, carol):
    domain_create(actor=None, name="example.net")
    assert proxy_count("domain") == 4

    result = run("domain", "disable", "sip.example.org")

    assert result.code == 0, result.err
    assert result.out == "disabled domain example.org: the proxy no longer serves it\n"
    assert proxy_rows("domain", "domain") == [("example.net",)]
    assert proxy_count("subscriber") == 0
    assert Domain.objects.get(did="example.org").enabled is False
    assert DomainName.objects.filter(domain__did="example.org").count() == 3

    result = run("domain", "enable", "example.org")

    assert result.code == 0, result.err
    assert result.out == "enabled domain example.org\n"
    assert proxy_count("domain") == 4
    assert proxy_count("subscriber") == 1


def test_enabling_a_domain_dns_has_not_confirmed_says_it_is_not_served(db):
    domain = domain_create(actor=None, name="new.example.com", enabled=False)
    domain_set_state(actor=None, domain=domain, state=DomainState.PENDING)

    result = run("domain", "enable", "new.example.com")

    assert result.out == "enabled domain new.example.com (state pending: not served until active)\n"
    assert proxy_count("domain") == 0


def test_domain_rm_deletes_a_domain_without_subscribers(example_org):
    result = run("domain", "rm", "192.0.2.10")

    assert result.code == 0, result.err
    assert result.out == (
        "deleted domain example.org: names 192.0.2.10, example.org, sip.example.org; "
        "0 subscribers; 0 user aliases; 0 attributes\n"
    )
    assert not Domain.objects.exists()
    assert not DomainName.objects.exists()
    assert proxy_count("domain") == 0


def test_domain_rm_with_subscribers_needs_force_and_tells_what_goes(example_org, carol):
    user_alias_add(actor=None, domain=example_org, username="1000", subscriber=carol)
    domain_attribute_set(actor=None, domain=example_org, name="max_contacts", value="2")
    before = snapshot()

    result = run("domain", "rm", "example.org")

    assert result.code == 1
    assert "domain example.org still has 1 subscriber(s) and 1 user alias(es)" in result.err
    assert (
        "(--force deletes names 192.0.2.10, example.org, sip.example.org; 1 subscriber; "
        "1 user alias; 1 attribute)"
    ) in result.err
    assert snapshot() == before

    result = run("domain", "rm", "example.org", "--force")

    assert result.code == 0, result.err
    assert result.out == (
        "deleted domain example.org: names 192.0.2.10, example.org, sip.example.org; "
        "1 subscriber; 1 user alias; 1 attribute\n"
    )
    assert not Domain.objects.exists()
    assert not Subscriber.objects.exists()
    assert not UserAlias.objects.exists()
    assert (proxy_count("domain"), proxy_count("subscriber"), proxy_count("dbaliases")) == (0, 0, 0)
    entry = AuditEntry.objects.get(action="domain.delete")
    assert (entry.channel, entry.before["subscribers"]) == ("cli", 1)


# --- usage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "the following arguments are required: SUBCOMMAND"),
        (["add"], "the following arguments are required: name"),
        (["alias", "add", "example.org"], "the following arguments are required: alias"),
        (["attr"], "the following arguments are required: ACTION"),
        (["list", "--state", "gone"], "argument --state: invalid choice: 'gone'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_are_reported(example_org, args, message):
    before = snapshot()

    with pytest.raises(CommandError, match=message):
        call_command("domain", *args, stdout=io.StringIO(), stderr=io.StringIO())

    assert snapshot() == before


# --- the console script -------------------------------------------------------------------


def script_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no test settings, the test database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "DATABASE_URL"}
    }
    env["SECRET_KEY"] = "serweb-cli-test-key"
    # The checkout under test, even where the editable install predates a new top-level
    # package (its finder maps only the packages that existed when it was installed).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BASE_DIR), env.get("PYTHONPATH")]))
    env["SERWEB_VAR_DIR"] = str(tmp_path)
    if ON_POSTGRES:
        db = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{quote(db['USER'] or '', safe='')}:{quote(db['PASSWORD'] or '', safe='')}"
            f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    env.update(extra)
    return env


def serweb(
    tmp_path: Path, *args: str, stdin: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    assert SERWEB.exists(), f"{SERWEB} is missing: run .venv/bin/pip install -e ."
    return subprocess.run(
        [str(SERWEB), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else script_env(tmp_path),
        cwd=tmp_path,  # anywhere: the script must not depend on the checkout as cwd
        timeout=120,
    )


def test_a_deployment_with_a_database_url_refuses_to_run_without_a_secret_key(tmp_path):
    env = script_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    del env["SECRET_KEY"]

    result = serweb(tmp_path, "domain", "list", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("error: configuration: SECRET_KEY is not set")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_an_empty_secret_key_is_refused_like_a_missing_one(tmp_path):
    result = serweb(tmp_path, "domain", "list", env=script_env(tmp_path, SECRET_KEY=" "))

    assert result.returncode == 1
    assert (
        result.stderr
        == "error: configuration: SECRET_KEY is set but empty: set a long random value\n"
    )


def test_the_embedded_default_keeps_a_generated_secret_key_in_var(tmp_path):
    env = script_env(tmp_path)
    del env["SECRET_KEY"]
    env.pop("DATABASE_URL", None)

    first = serweb(tmp_path, "domain", "list", env=env)
    second = serweb(tmp_path, "domain", "list", env=env)

    # The tables do not exist in this fresh var/; the key does, and it is the same key.
    assert "configuration" not in first.stderr + second.stderr
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50
    assert key not in first.stdout + first.stderr
    assert key_file.read_text().strip() == key


def test_the_script_reports_usage_errors_without_a_traceback(tmp_path):
    result = serweb(tmp_path, "domain", "add")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: serweb domain add")
    assert "the following arguments are required: name" in result.stderr
    assert "Traceback" not in result.stderr

    result = serweb(tmp_path, "domain", "--help")

    assert result.returncode == 0
    for subcommand in ["add", "rm", "show", "list", "alias", "canonical", "attr", "enable"]:
        assert subcommand in result.stdout


@postgres_only
def test_the_script_writes_to_the_database(transactional_db, tmp_path):
    result = serweb(
        tmp_path, "domain", "add", "script.example.com", "--alias", "sip.script.example.com"
    )

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == "created domain script.example.com: script.example.com, sip.script.example.com\n"
    )
    assert proxy_rows("domain", "domain, did") == [
        ("script.example.com", "script.example.com"),
        ("sip.script.example.com", "script.example.com"),
    ]
    assert AuditEntry.objects.get().channel == "cli"

    result = serweb(tmp_path, "domain", "disable", "sip.script.example.com")

    assert result.returncode == 0, result.stderr
    assert proxy_count("domain") == 0
    assert Domain.objects.get().enabled is False


@postgres_only
def test_the_script_reports_bad_input_in_one_line_and_exit_code_1(transactional_db, tmp_path):
    domain_create(actor=None, name="example.org")
    before = snapshot()

    for args, message in [
        (["domain", "add", "a" * 60 + ".test"], "65 characters in DNS form"),
        (["domain", "add", "new.example.org", "--alias", "example.org"], "already belongs"),
        (["domain", "show", "nowhere.test"], "no domain named 'nowhere.test'"),
        (["domain", "attr", "set", "example.org", "max_contacts"], "expected KEY=VALUE"),
    ]:
        result = serweb(tmp_path, *args)

        assert result.returncode == 1, args
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    assert snapshot() == before


@postgres_only
def test_serweb_does_what_manage_py_does(transactional_db, tmp_path):
    domain_create(actor=None, name="example.org", aliases=["sip.example.org"])
    env = script_env(tmp_path)

    for args in [["domain", "list", "--json"], ["domain", "show", "sip.example.org"]]:
        by_script = serweb(tmp_path, *args, env=env)
        by_manage = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

        assert by_script.returncode == by_manage.returncode == 0
        assert by_script.stdout == by_manage.stdout
        assert "example.org" in by_script.stdout


@postgres_only
def test_cli_writes_are_audited_as_the_system_login_or_the_operator_named(
    transactional_db, tmp_path
):
    from django.contrib.auth import get_user_model

    users = get_user_model()
    users.objects.create_user("alice", is_staff=True)
    users.objects.create_user("bob")

    assert serweb(tmp_path, "domain", "add", "one.example.org").returncode == 0
    assert serweb(tmp_path, "domain", "add", "two.example.org", "--as", "alice").returncode == 0
    refused = serweb(tmp_path, "domain", "add", "three.example.org", "--as", "bob")

    import getpass

    first, second = AuditEntry.objects.order_by("id")
    assert (first.actor, first.actor_name, first.channel) == (None, getpass.getuser(), "cli")
    assert (second.actor.username, second.actor_name, second.channel) == ("alice", "alice", "cli")
    assert refused.returncode == 1
    assert refused.stderr == "error: --as: no active operator 'bob'\n"
    assert not Domain.objects.filter(did="three.example.org").exists()


@postgres_only
def test_arguments_and_standard_input_that_are_not_utf8_are_refused(transactional_db, tmp_path):
    domain_create(actor=None, name="example.org")
    env = script_env(tmp_path)
    before = snapshot()

    bad_argument = subprocess.run(
        [str(SERWEB).encode(), b"domain", b"add", b"\xff\xfe.example.org"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    bad_stdin = subprocess.run(
        [str(SERWEB), "subscriber", "add", "carol@example.org", "--password-stdin"],
        input=b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\n",
        capture_output=True,
        env={**env, "LC_ALL": "C"},
        cwd=tmp_path,
        timeout=120,
    )

    assert (bad_argument.returncode, bad_argument.stderr) == (
        1,
        b"error: argument 2 is not valid UTF-8\n",
    )
    assert (bad_stdin.returncode, bad_stdin.stderr) == (
        1,
        b"error: --password-stdin: standard input is not valid UTF-8\n",
    )
    assert snapshot() == before


@postgres_only
def test_the_script_imports_nothing_from_the_current_directory(transactional_db, tmp_path):
    marker = tmp_path / "imported"
    for module in ["secrets", "json", "domains", "celery", "random"]:
        (tmp_path / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write({module!r})\n")

    listed = serweb(tmp_path, "domain", "add", "cwd.example.org")

    assert listed.returncode == 0, listed.stderr
    assert not marker.exists(), marker.read_text()


def test_a_database_without_tables_is_one_line_naming_the_fix(tmp_path):
    env = script_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")

    result = serweb(tmp_path, "domain", "list", env=env)

    assert result.returncode == 1
    assert result.stderr == (
        "error: the database: no such table: domains_domain (is it running? "
        "`./manage.py migrate` creates the tables)\n"
    )
