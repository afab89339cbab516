"""The `import` command: CSV files of domains or subscribers, all rows or none."""

from pathlib import Path

import pytest

from audit.models import AuditEntry
from domains.models import Domain
from domains.services import domain_create
from subscribers import digest
from subscribers.models import Subscriber
from tests.helpers import proxy_rows
from tests.test_cli import postgres_only, run, serweb, snapshot

DOMAINS = """\
name,aliases,did,enabled,attr.max_contacts
alpha.test,sip.alpha.test 192.0.2.10,,yes,3
beta.test,,,no,
192.0.2.20,,gamma-id,yes,0
"""

SUBSCRIBERS = """\
username,domain,password,email,valid_from
alice,sip.alpha.test,alice-secret,alice@mail.test,1000 2000
bob,alpha.test,bob-secret-1,,
"""


def write(tmp_path: Path, text: str, name: str = "rows.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_domains_creates_every_domain_and_tells_the_counts(db, tmp_path):
    path = write(tmp_path, DOMAINS)

    result = run("import", "domains", path)

    assert result.code == 0, result.err
    assert result.out == "imported 3 domains (5 names, 2 attributes)\n"
    assert sorted(Domain.objects.values_list("did", "enabled")) == [
        ("alpha.test", True),
        ("beta.test", False),
        ("gamma-id", True),
    ]
    assert proxy_rows("domain", "domain, did") == [
        ("192.0.2.10", "alpha.test"),
        ("192.0.2.20", "gamma-id"),
        ("alpha.test", "alpha.test"),
        ("sip.alpha.test", "alpha.test"),
    ]
    assert proxy_rows("domain_attrs", "did, name, value") == [("alpha.test", "max_contacts", "3")]
    assert AuditEntry.objects.get(action="import.domains").channel == "cli"


def test_import_domains_reports_every_bad_row_and_writes_nothing(db, tmp_path):
    domain_create(actor=None, name="taken.test")
    path = write(
        tmp_path,
        "name,aliases,attr.max_contacts\n"
        "good.test,,\n" + "a" * 60 + ".test,,\n"
        "other.test,taken.test,\n"
        "third.test,,lots\n",
    )
    before = snapshot()

    result = run("import", "domains", path)

    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == (
        f"{path}:3: '{'a' * 60}.test': 65 characters in DNS form; the proxy's tables hold at "
        "most 64"
    )
    assert lines[1] == f"{path}:4: taken.test already belongs to domain taken.test"
    assert lines[2].startswith(f"{path}:5: ") and "'lots' is not an integer" in lines[2]
    assert lines[3] == f"error: {path}: 3 row error(s); nothing imported"
    assert len(lines) == 4
    assert result.out == ""
    assert snapshot() == before


def test_import_subscribers_creates_them_and_never_shows_a_password(db, tmp_path):
    run("import", "domains", write(tmp_path, DOMAINS, "domains.csv"))
    path = write(tmp_path, SUBSCRIBERS)

    result = run("import", "subscribers", path)

    assert result.code == 0, result.err
    assert result.out == "imported 2 subscribers (4 valid froms)\n"
    alice = Subscriber.objects.get(username="alice")
    assert alice.domain.did == "alpha.test"
    assert alice.ha1 == digest.ha1("alice", "alpha.test", "alice-secret")
    assert sorted(alice.valid_froms.values_list("from_user", flat=True)) == [
        "1000",
        "2000",
        "alice",
    ]
    assert proxy_rows("subscriber", "username, domain") == [
        ("alice", "alpha.test"),
        ("bob", "alpha.test"),
    ]
    for secret in ["alice-secret", "bob-secret-1", alice.ha1, alice.ha1b]:
        assert secret not in result.output
    assert AuditEntry.objects.get(action="import.subscribers").channel == "cli"


def test_import_subscribers_reports_bad_rows_without_their_secrets(db, tmp_path):
    run("import", "domains", write(tmp_path, DOMAINS, "domains.csv"))
    path = write(
        tmp_path,
        "username,domain,password\n"
        "carol,alpha.test,carol-secret\n"
        "dave,nowhere.test,dave-secret\n"
        "erin,alpha.test,short\n",
    )
    before = snapshot()

    result = run("import", "subscribers", path)

    assert result.code == 1
    assert result.err.splitlines() == [
        f"{path}:3: no domain named 'nowhere.test'",
        f"{path}:4: the password needs at least 8 characters",
        f"error: {path}: 2 row error(s); nothing imported",
    ]
    assert snapshot() == before
    for secret in ["carol-secret", "dave-secret", "short"]:
        assert secret not in result.output


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty; a header row is required"),
        (b"name,colour\nalpha.test,red\n", "unknown column(s): colour"),
        (b"name\n\xff\xfe.test\n", "the file is not UTF-8 text"),
    ],
)
def test_import_reports_a_bad_file_by_line(db, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    result = run("import", "domains", str(path))

    assert result.code == 1
    assert result.err.splitlines()[0].startswith(f"{path}:")
    assert message in result.err
    assert not Domain.objects.exists()


@pytest.mark.parametrize("what", ["domains", "subscribers"])
def test_import_of_an_unreadable_file_is_an_error(db, tmp_path, what):
    missing = tmp_path / "missing.csv"

    result = run("import", what, str(missing))

    assert result.code == 1
    assert result.err == f"error: cannot read {missing}: No such file or directory\n"

    result = run("import", what, str(tmp_path))

    assert result.code == 1
    assert result.err == f"error: cannot read {tmp_path}: Is a directory\n"


@postgres_only
def test_the_script_imports_and_reports_row_errors(transactional_db, tmp_path):
    good = write(tmp_path, DOMAINS, "domains.csv")
    bad = write(tmp_path, "name\nbad_label.test\n", "bad.csv")

    result = serweb(tmp_path, "import", "domains", good)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported 3 domains (5 names, 2 attributes)\n"
    assert Domain.objects.count() == 3

    result = serweb(tmp_path, "import", "domains", bad)

    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(f"{bad}:2: 'bad_label.test': not a valid")
    assert result.stderr.splitlines()[-1] == f"error: {bad}: 1 row error(s); nothing imported"
    assert "Traceback" not in result.stderr
    assert Domain.objects.count() == 3
