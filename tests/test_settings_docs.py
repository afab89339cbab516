"""Every setting serweb reads is defined from the environment in serweb/settings.py and
documented where an operator looks for it."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import global_settings

from serweb.env import load_env_file

ROOT = Path(__file__).resolve().parent.parent
# The code that reads settings: everything but the tests and the environment.
SKIPPED = {"tests", ".venv", ".git", "var"}


def settings_read() -> set[str]:
    """The environment variables serweb/settings.py reads."""
    source = (ROOT / "serweb" / "settings.py").read_text()
    return set(
        re.findall(r'env_(?:str|bool|int|float|list|secret_key)\(\s*"([A-Z][A-Z0-9_]*)"', source)
    )


def settings_defined() -> set[str]:
    """The settings serweb/settings.py assigns at module level (in ``if`` blocks too)."""
    tree = ast.parse((ROOT / "serweb" / "settings.py").read_text())
    return {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id.isupper()
    }


def code_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED & set(path.relative_to(ROOT).parts[:1])
        and path != ROOT / "serweb" / "settings.py"
    ]


def settings_used(source: str, filename: str) -> tuple[set[str], list[str]]:
    """The settings a file's ``source`` reads (``settings.NAME``, ``getattr(settings, "NAME")``), and
    each read that hides a setting from serweb/settings.py: a default given in the code
    (no environment variable can change it) or a name computed at run time."""
    names: set[str] = set()
    hidden: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.isupper()
        ):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
        ):
            where = f"{filename}:{node.lineno}"
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                names.add(name.value)
            else:
                hidden.append(f"{where}: a setting named at run time")
            if len(node.args) > 2:
                hidden.append(f"{where}: a default outside serweb/settings.py")
    return names, hidden


def test_every_setting_the_code_reads_is_defined_in_the_settings_module():
    defined = settings_defined() | {name for name in dir(global_settings) if name.isupper()}
    undefined, hidden = set(), []
    for path in code_files():
        filename = str(path.relative_to(ROOT))
        names, hiding = settings_used(path.read_text(), filename)
        undefined |= {f"{filename}: {name}" for name in names - defined}
        hidden += hiding

    assert undefined == set()
    assert hidden == []


def test_the_check_sees_a_setting_the_settings_module_does_not_define():
    sample = (
        "from django.conf import settings\n"
        "a = settings.SERWEB_PROXY_SCHEMA\n"
        "b = getattr(settings, 'SERWEB_NOWHERE_DEFINED', 3)\n"
        "c = getattr(settings, 'SERWEB_' + 'COMPUTED')\n"
    )

    names, hidden = settings_used(sample, "sample.py")

    assert names == {"SERWEB_PROXY_SCHEMA", "SERWEB_NOWHERE_DEFINED"}
    assert names - settings_defined() == {"SERWEB_NOWHERE_DEFINED"}
    assert hidden == [
        "sample.py:3: a default outside serweb/settings.py",
        "sample.py:4: a setting named at run time",
    ]


def test_every_setting_is_in_the_env_example():
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))

    assert settings_read() - listed == set()
    assert listed - settings_read() == set()


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table = {
        name
        for row in readme.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])
    }

    assert settings_read() - table == set()


def test_the_env_file_fills_in_what_the_environment_does_not_set(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n\nSERWEB_T_PLAIN=one\nexport SERWEB_T_QUOTED='two words'\n"
        'SERWEB_T_SET=from-file\nSERWEB_T_EQUALS="a=b"\n'
    )
    for name in ["SERWEB_T_PLAIN", "SERWEB_T_QUOTED", "SERWEB_T_EQUALS"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SERWEB_T_SET", "from-environment")

    load_env_file(env_file)

    import os

    assert os.environ["SERWEB_T_PLAIN"] == "one"
    assert os.environ["SERWEB_T_QUOTED"] == "two words"
    assert os.environ["SERWEB_T_EQUALS"] == "a=b"
    assert os.environ["SERWEB_T_SET"] == "from-environment"
    for name in ["SERWEB_T_PLAIN", "SERWEB_T_QUOTED", "SERWEB_T_EQUALS"]:
        monkeypatch.delenv(name)


def test_a_line_of_the_env_file_that_is_no_assignment_is_refused(tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    env_file = tmp_path / ".env"
    env_file.write_text("SERWEB_T_GOOD=1\nthis is not an assignment\n")
    monkeypatch.setenv("SERWEB_T_GOOD", "0")  # restored afterwards

    with pytest.raises(ImproperlyConfigured, match=r"line 2: expected KEY=VALUE"):
        load_env_file(env_file)


def reload_config_in_a_process(tmp_path, **environment: str):
    """proxies.config.config() as a process started with ``environment`` sees it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SERWEB_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="serweb.settings",
        PYTHONPATH=str(ROOT),
        SERWEB_VAR_DIR=str(tmp_path),
        SERWEB_ENV_FILE=str(tmp_path / "no.env"),
        **environment,
    )
    script = (
        "import dataclasses, json, django\n"
        "django.setup()\n"
        "from proxies.config import config\n"
        "print(json.dumps(dataclasses.asdict(config())))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_reload_settings_come_from_the_environment(tmp_path):
    default = reload_config_in_a_process(tmp_path)
    changed = reload_config_in_a_process(
        tmp_path,
        SERWEB_RELOAD_CLAIM_TTL="90",
        SERWEB_RELOAD_RETRY_BASE="2",
        SERWEB_PROBE_NAMES="0",
        SERWEB_PROXY_SHM_RESERVE="1048576",
        SERWEB_PROXY_SHM_SAFETY="1.5",
    )

    assert default.returncode == 0, default.stderr
    assert changed.returncode == 0, changed.stderr
    before, after = json.loads(default.stdout), json.loads(changed.stdout)
    assert (before["claim_ttl"], after["claim_ttl"]) == (60.0, 90.0)
    assert (before["retry_base"], after["retry_base"]) == (1.0, 2.0)
    assert (before["probe_names"], after["probe_names"]) == (5, 0)
    assert (before["shm_reserve"], after["shm_reserve"]) == (4 * 1024 * 1024, 1048576)
    assert (before["shm_safety"], after["shm_safety"]) == (1.25, 1.5)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SERWEB_RELOAD_CLAIM_TTL", "10", "must be longer than SERWEB_RELOAD_TIMEOUT (10)"),
        ("SERWEB_PROXY_SHM_SAFETY", "0.5", "must be at least 1.0"),
        ("SERWEB_PROXY_SHM_SAFETY", "nan", "expected a finite number"),
        ("SERWEB_PROBE_NAMES", "five", "expected an integer"),
        ("SERWEB_LOOKUP_NEGATIVE_TTL", "0", "must be at least 1"),
        ("SERWEB_LOOKUP_NEGATIVE_TTL", "86401", "must be at most 86400"),
    ],
)
def test_a_bad_reload_setting_stops_the_start(tmp_path, name, value, problem):
    result = reload_config_in_a_process(tmp_path, **{name: value})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}=" in result.stderr
    assert problem in result.stderr
