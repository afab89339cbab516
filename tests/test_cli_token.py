from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from api.models import ApiToken


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_list_revoke(alice):
    key, _ = run("create", "alice", "--name", "billing")
    key = key.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/domains/").status_code == 200

    listing, _ = run("list")
    token = ApiToken.objects.get()
    assert token.prefix in listing and "billing" in listing
    assert key.split(".", 1)[1] not in listing and token.key_hash not in listing

    run("revoke", token.prefix)
    assert client.get("/api/v1/domains/").status_code == 401
    assert run("list")[0] == ""
    assert token.prefix in run("list", "--all")[0]


def test_bad_input_exits_1(alice):
    for args in [
        ("create", "nobody", "--name", "x"),
        ("revoke", "0000"),
        ("create", "alice", "--name", ""),
    ]:
        with pytest.raises(CommandError) as excinfo:
            run(*args)
        assert excinfo.value.returncode == 1
    assert not ApiToken.objects.exists()
