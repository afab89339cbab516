"""Every setting serweb reads is documented where an operator looks for it."""

import re
from pathlib import Path

from serweb.env import load_env_file

ROOT = Path(__file__).resolve().parent.parent


def settings_read() -> set[str]:
    source = (ROOT / "serweb" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|list|secret_key)\(\s*"([A-Z][A-Z0-9_]*)"', source))


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
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    env_file = tmp_path / ".env"
    env_file.write_text("SERWEB_T_GOOD=1\nthis is not an assignment\n")
    monkeypatch.setenv("SERWEB_T_GOOD", "0")  # restored afterwards

    with pytest.raises(ImproperlyConfigured, match=r"line 2: expected KEY=VALUE"):
        load_env_file(env_file)
