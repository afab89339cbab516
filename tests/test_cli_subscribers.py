"""The `subscriber`, `validfrom` and `alias` commands."""

import json

import pytest

from domains.services import domain_create
from subscribers import digest
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import subscriber_create, user_alias_add
from tests.helpers import proxy_rows
from tests.test_cli import postgres_only, run, serweb, snapshot

PASSWORD = "carol-secret"


@pytest.fixture
def example_org(db):
    return domain_create(actor=None, name="example.org", aliases=["sip.example.org"])


@pytest.fixture
def carol(example_org):
    return subscriber_create(actor=None, domain=example_org, username="carol", password=PASSWORD)


def assert_no_secret(output: str, *subscribers: Subscriber, passwords=(PASSWORD,)) -> None:
    for subscriber in subscribers:
        subscriber.refresh_from_db()
        assert subscriber.ha1 not in output
        assert subscriber.ha1b not in output
    for password in passwords:
        assert password not in output


# --- subscriber add -------------------------------------------------------------------------


def test_subscriber_add_creates_the_digest_user(example_org):
    result = run(
        "subscriber", "add", "alice@SIP.example.org", "--password", "alice-secret", "--email",
        "alice@mail.test",
    )  # fmt: skip

    assert result.code == 0, result.err
    assert result.out == "created subscriber alice@example.org\n"
    alice = Subscriber.objects.get()
    assert (alice.username, alice.domain, alice.email) == ("alice", example_org, "alice@mail.test")
    assert alice.ha1 == digest.ha1("alice", "example.org", "alice-secret")
    assert alice.ha1b == digest.ha1b("alice", "example.org", "example.org", "alice-secret")
    assert alice.password == ""
    # Its own name is its first valid From identity.
    assert list(alice.valid_froms.values_list("from_user", flat=True)) == ["alice"]
    assert proxy_rows("subscriber", "username, domain, ha1") == [
        ("alice", "example.org", alice.ha1)
    ]
    assert proxy_rows("uri", "username, domain, uri_user") == [("alice", "example.org", "alice")]
    assert_no_secret(result.output, alice, passwords=["alice-secret"])


def test_subscriber_add_reads_the_password_from_stdin(example_org):
    # Only the line ending goes: leading and trailing spaces are part of the password.
    result = run(
        "subscriber", "add", "alice@example.org", "--password-stdin", stdin="  two words \nnext\n"
    )

    assert result.code == 0, result.err
    alice = Subscriber.objects.get()
    assert alice.ha1 == digest.ha1("alice", "example.org", "  two words ")
    assert_no_secret(result.output, alice, passwords=["two words"])


def test_a_windows_line_ending_on_stdin_is_not_part_of_the_password(example_org):
    result = run(
        "subscriber", "add", "alice@example.org", "--password-stdin", stdin="s3cret-pw\r\n"
    )

    assert result.code == 0, result.err
    assert Subscriber.objects.get().ha1 == digest.ha1("alice", "example.org", "s3cret-pw")


def test_empty_stdin_is_an_error(example_org):
    result = run("subscriber", "add", "alice@example.org", "--password-stdin", stdin="")

    assert result.code == 1
    assert result.err == "error: --password-stdin: nothing on standard input\n"
    assert not Subscriber.objects.exists()


def test_a_did_that_is_no_host_name_stands_for_its_domain(db):
    domain_create(actor=None, name="192.0.2.1", did="corp_1")

    result = run("subscriber", "add", "alice@corp_1", "--password", "alice-secret")

    assert result.code == 0, result.err
    assert Subscriber.objects.get().domain.did == "corp_1"
    assert run("subscriber", "add", "bob@192.0.2.1", "--password", "bob-secret").code == 0
    assert run("subscriber", "list", "corp_1").out.count("@corp_1") == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["alice@example.org", "--password", "short"], "password: the password needs at least 8"),
        (["alice@example.org", "--password", "x" * 65], "password: the password may have at most"),
        (["alice@example.org", "--password", "tab\there1"], "password: the password contains"),
        (["carol@example.org", "--password", "long-enough"], "username: carol@example.org exists"),
        (["al ice@example.org", "--password", "long-enough"], "user name 'al ice': use letters"),
        (["u" * 65 + "@example.org", "--password", "long-enough"], "has 65 characters"),
        (["@example.org", "--password", "long-enough"], "the user name is empty"),
        (["alice", "--password", "long-enough"], "'alice': expected USER@DOMAIN"),
        (["alice@nowhere.test", "--password", "long-enough"], "no domain named 'nowhere.test'"),
        (["alice@bad_label.test", "--password", "long-enough"], "not a valid domain name"),
        (
            ["alice@example.org", "--password", "long-enough", "--email", "not-mail"],
            "email: 'not-mail' is not an e-mail address",
        ),
    ],
)
def test_subscriber_add_refuses_bad_input_and_writes_nothing(carol, args, message):
    before = snapshot()

    result = run("subscriber", "add", *args)

    assert result.code == 1
    assert message in result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert snapshot() == before
    assert_no_secret(result.output, carol, passwords=["long-enough", "tab\there1"])


def test_subscriber_add_needs_a_password_option(example_org):
    for args in [
        ["alice@example.org"],
        ["alice@example.org", "--password", "a", "--password-stdin"],
    ]:
        result = run("subscriber", "add", *args)

        assert result.code == 1
        assert "--password" in result.err
    assert not Subscriber.objects.exists()


# --- subscriber passwd / rm / list ----------------------------------------------------------


def test_subscriber_passwd_changes_the_hashes(carol):
    result = run(
        "subscriber", "passwd", "carol@sip.example.org", "--password-stdin", stdin="new-secret\n"
    )

    assert result.code == 0, result.err
    assert result.out == "changed the password of carol@example.org\n"
    carol.refresh_from_db()
    assert carol.ha1 == digest.ha1("carol", "example.org", "new-secret")
    assert carol.ha1b == digest.ha1b("carol", "example.org", "example.org", "new-secret")
    assert_no_secret(result.output, carol, passwords=["new-secret"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["bob@example.org", "--password", "new-secret"], "no subscriber bob@example.org"),
        (["carol@nowhere.test", "--password", "new-secret"], "no domain named 'nowhere.test'"),
        (["carol@example.org", "--password", "short"], "password: the password needs at least"),
    ],
)
def test_subscriber_passwd_refuses_bad_input(carol, args, message):
    before = snapshot()

    result = run("subscriber", "passwd", *args)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


def test_subscriber_rm_deletes_the_user_with_its_identities_and_aliases(example_org, carol):
    user_alias_add(actor=None, domain=example_org, username="1000", subscriber=carol)

    result = run("subscriber", "rm", "carol@example.org")

    assert result.code == 0, result.err
    assert result.out == "deleted subscriber carol@example.org with 1 user alias\n"
    assert not Subscriber.objects.exists()
    assert not ValidFrom.objects.exists()
    assert not UserAlias.objects.exists()
    assert proxy_rows("subscriber", "username") == []
    assert proxy_rows("dbaliases", "alias_username") == []


def test_subscriber_rm_of_an_unknown_user_is_an_error(carol):
    result = run("subscriber", "rm", "bob@example.org")

    assert result.code == 1
    assert result.err == "error: no subscriber bob@example.org\n"
    assert Subscriber.objects.count() == 1


def test_subscriber_list_shows_users_but_never_their_secrets(settings, example_org, carol):
    settings.SERWEB_STORE_CLEAR_PASSWORDS = True
    other = domain_create(actor=None, name="example.net")
    dave = subscriber_create(
        actor=None, domain=other, username="dave", password="dave-secret", email="d@mail.test"
    )
    run("validfrom", "add", "carol@example.org", "1000")
    run("domain", "disable", "example.net")

    result = run("subscriber", "list")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "dave@example.net enabled d@mail.test from=dave",
        "carol@example.org enabled - from=1000,carol",
    ]
    assert run("subscriber", "list", "example.net").out == (
        "dave@example.net enabled d@mail.test from=dave\n"
    )
    as_json = run("subscriber", "list", "sip.example.org", "--json")
    assert json.loads(as_json.out) == [
        {
            "user": "carol@example.org",
            "username": "carol",
            "did": "example.org",
            "enabled": True,
            "email": "",
            "valid_from": ["1000", "carol"],
        }
    ]
    dave.refresh_from_db()
    assert dave.password == "dave-secret"  # kept, as the setting asks, yet never shown
    assert_no_secret(result.output + as_json.output, carol, dave, passwords=["dave-secret"])
    assert run("subscriber", "list", "nowhere.test").code == 1


# --- validfrom ------------------------------------------------------------------------------


def test_validfrom_add_list_rm(carol):
    result = run("validfrom", "add", "carol@example.org", "+4930123")

    assert result.code == 0, result.err
    assert result.out == "carol@example.org may present From user +4930123\n"
    assert proxy_rows("uri", "username, domain, uri_user") == [
        ("carol", "example.org", "+4930123"),
        ("carol", "example.org", "carol"),
    ]
    assert run("validfrom", "list", "carol@sip.example.org").out == "+4930123\ncarol\n"
    assert json.loads(run("validfrom", "list", "carol@example.org", "--json").out) == {
        "user": "carol@example.org",
        "valid_from": ["+4930123", "carol"],
    }

    result = run("validfrom", "rm", "carol@example.org", "carol")

    assert result.code == 0, result.err
    assert result.out == "carol@example.org may no longer present From user carol\n"
    assert list(carol.valid_froms.values_list("from_user", flat=True)) == ["+4930123"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "carol@example.org", "carol"], "from_user: carol@example.org may already present"),
        (["add", "carol@example.org", "bad user"], "from_user: From user name 'bad user'"),
        (["add", "carol@example.org", ""], "from_user: the From user name is empty"),
        (["add", "bob@example.org", "x"], "no subscriber bob@example.org"),
        (["rm", "carol@example.org", "nobody"], "from_user: carol@example.org has no valid From"),
        (["list", "bob@example.org"], "no subscriber bob@example.org"),
        (["list", "carol@nowhere.test"], "no domain named 'nowhere.test'"),
    ],
)
def test_validfrom_refuses_bad_input(carol, args, message):
    before = snapshot()

    result = run("validfrom", *args)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


# --- alias ----------------------------------------------------------------------------------


def test_alias_add_list_rm(example_org, carol):
    domain_create(actor=None, name="example.net")

    result = run("alias", "add", "1000@example.net", "carol@sip.example.org")

    assert result.code == 0, result.err
    assert result.out == "1000@example.net now leads to carol@example.org\n"
    assert proxy_rows("dbaliases", "alias_username, alias_domain, username, domain") == [
        ("1000", "example.net", "carol", "example.org")
    ]
    run("alias", "add", "sales@example.org", "carol@example.org")
    assert run("alias", "list").out.splitlines() == [
        "1000@example.net -> carol@example.org",
        "sales@example.org -> carol@example.org",
    ]
    assert json.loads(run("alias", "list", "example.net", "--json").out) == [
        {"alias": "1000@example.net", "user": "carol@example.org"}
    ]

    result = run("alias", "rm", "1000@example.net", "carol@example.org")

    assert result.code == 0, result.err
    assert result.out == "removed user alias 1000@example.net\n"
    assert list(UserAlias.objects.values_list("username", flat=True)) == ["sales"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "carol@example.org", "carol@example.org"], "username: carol@example.org is a sub"),
        (["add", "1000@example.org", "carol@example.org"], "username: 1000@example.org is already"),
        (
            ["add", "bad alias@example.org", "carol@example.org"],
            "user name 'bad alias': use letters",
        ),
        (["add", "2000@example.org", "bob@example.org"], "no subscriber bob@example.org"),
        (["add", "2000@nowhere.test", "carol@example.org"], "no domain named 'nowhere.test'"),
        (["rm", "2000@example.org", "carol@example.org"], "no user alias 2000@example.org"),
        (["rm", "1000@example.org", "dave@example.org"], "1000@example.org leads to carol@"),
        (["list", "nowhere.test"], "no domain named 'nowhere.test'"),
    ],
)
def test_alias_refuses_bad_input(example_org, carol, args, message):
    subscriber_create(actor=None, domain=example_org, username="dave", password="dave-secret")
    user_alias_add(actor=None, domain=example_org, username="1000", subscriber=carol)
    before = snapshot()

    result = run("alias", *args)

    assert result.code == 1
    assert message in result.err
    assert snapshot() == before


# --- through the console script -------------------------------------------------------------


@postgres_only
def test_the_script_takes_the_password_from_stdin_and_never_shows_it(transactional_db, tmp_path):
    domain_create(actor=None, name="example.org", aliases=["sip.example.org"])

    result = serweb(
        tmp_path, "subscriber", "add", "alice@sip.example.org", "--password-stdin",
        stdin="stdin-secret\n",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == "created subscriber alice@example.org\n"
    alice = Subscriber.objects.get()
    assert alice.ha1 == digest.ha1("alice", "example.org", "stdin-secret")
    listing = serweb(tmp_path, "subscriber", "list", "--json")
    assert json.loads(listing.stdout)[0]["user"] == "alice@example.org"

    refused = serweb(tmp_path, "subscriber", "passwd", "alice@example.org", "--password", "short")

    assert refused.returncode == 1
    assert refused.stderr == "error: password: the password needs at least 8 characters\n"
    everything = "".join(r.stdout + r.stderr for r in (result, listing, refused))
    assert_no_secret(everything, alice, passwords=["stdin-secret", "short"])
