"""The README's demo and its examples, run as written against the demo's data."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from domains.models import DomainClaim, DomainName, NameKind, Tenant
from proxies.models import Proxy
from subscribers.models import Subscriber, UserAlias, ValidFrom
from tests.test_cli import script_env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.postgres


def readme_block(after_heading: str, language: str) -> str:
    section = README[README.index(after_heading) :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block after {after_heading!r}"
    return match.group(1)


def demo_logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"login '(\w+)' password '([^']+)'", output))


@pytest.fixture
def demo(transactional_db, capsys):
    call_command("demo")
    return demo_logins(capsys.readouterr().out)


def test_the_demo_holds_every_kind_of_object_and_prints_logins_that_work(demo):
    assert set(demo) == {"operator", "bob"}
    operator = authenticate(username="operator", password=demo["operator"])
    bob = authenticate(username="bob", password=demo["bob"])
    assert operator is not None and operator.is_staff
    assert bob is not None and not bob.is_staff and Tenant.objects.get(owner=bob)

    kinds = set(DomainName.objects.filter(domain__did="example.net").values_list("kind", flat=True))
    assert kinds == {NameKind.HOSTNAME, NameKind.IPV4, NameKind.IPV6}
    assert DomainName.objects.filter(domain__tenant__owner=bob).exists()
    assert Subscriber.objects.count() >= 2
    assert ValidFrom.objects.exclude(from_user__in=Subscriber.objects.values("username")).exists()
    assert UserAlias.objects.exists()
    assert DomainClaim.objects.filter(domain__isnull=True, tenant__owner=bob).exists()
    assert Proxy.objects.exists()


def test_the_demo_follows_the_rules_it_serves_tenants_by(demo):
    from django.conf import settings

    reserved = tuple(settings.SERWEB_DNS_RESERVED_SUFFIXES)
    for name in DomainName.objects.filter(kind=NameKind.HOSTNAME).values_list("name", flat=True):
        assert name.split(".")[-1] not in reserved, name


def test_running_the_demo_again_keeps_its_data_and_gives_new_passwords(demo, capsys):
    names = sorted(DomainName.objects.values_list("name", flat=True))

    call_command("demo")
    again = demo_logins(capsys.readouterr().out)

    assert sorted(DomainName.objects.values_list("name", flat=True)) == names
    assert again["operator"] != demo["operator"]
    assert authenticate(username="bob", password=again["bob"]) is not None


def test_the_readme_commands_run_as_written_on_the_demo(demo, tmp_path):
    # The checkout's manage.py, reached as ./manage.py from a folder of the test's own, so
    # token.txt lands there.
    (tmp_path / "manage.py").symlink_to(ROOT / "manage.py")
    env = script_env(tmp_path)
    commands = [
        line for line in readme_block("### Try it on the demo", "sh").splitlines() if line.strip()
    ]
    assert len(commands) >= 8

    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr, command

    assert Subscriber.objects.filter(username="frank", domain__did="voice.example.com").exists()
    assert UserAlias.objects.filter(username="4930999", subscriber__username="frank").exists()
    assert re.fullmatch(r"\S+\.\S+\n", (tmp_path / "token.txt").read_text())


def test_the_readme_api_example_runs_as_written_on_the_demo(demo, live_server, tmp_path):
    from api.services import token_create
    from domains.models import Domain

    operator = authenticate(username="operator", password=demo["operator"])
    _token, key = token_create(actor=None, user=operator, name="readme")
    (tmp_path / "token.txt").write_text(key + "\n")
    example = readme_block("With the demo running", "python").replace(
        "http://127.0.0.1:8000", live_server.url
    )

    result = subprocess.run(
        [sys.executable, "-c", example],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ},
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "example.com ['example.com', '192.0.2.10', 'sip.example.com']" in result.stdout
    assert Domain.objects.get(did="example.com").subscribers.get(username="carol")
