"""The whole API fuzzed from its own OpenAPI schema, over HTTP, against a real server.

serweb runs under gunicorn with production settings on a loopback port and the test
database, holding the `world` fixture's objects; Schemathesis runs as its own process
against it, once with an operator's token and once with a tenant's, each on a fresh
database. tests/schemathesis.toml sets what runs: every phase (the schema's examples;
coverage, with negative data and unexpected methods such as OPTIONS; fuzzing; stateful
sequences that reuse what earlier answers created), every check but
positive_data_acceptance, derandomized, about two minutes per token. The test fails on
any server error, on any answer the schema does not allow, and on a run that was mostly
throttled.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.services import token_authenticate, token_create
from tests.api_helpers import world  # noqa: F401
from tests.helpers import database_url
from tests.test_e2e_lookup import Serweb

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MIN_OPERATIONS = 40


@pytest.fixture
def server(transactional_db, tmp_path):
    serweb = Serweb(
        tmp_path,
        database_url=database_url(),
        environment={
            # Tests talk to loopback only: DNS checks go to a closed port.
            "SERWEB_DNS_NAMESERVERS": "127.0.0.1:9",
            "SERWEB_DNS_TIMEOUT_MS": "100",
            "SERWEB_DNS_LIFETIME_MS": "200",
            # The run sends bad tokens on purpose (ignored_auth); the budget of failed
            # authentications per address would then refuse all it sends after them.
            "SERWEB_AUTH_FAILURE_LIMIT": "1000000",
            "SERWEB_VAR_DIR": str(tmp_path / "var"),
        },
    )
    serweb.start()
    yield serweb
    serweb.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    server,
    world,  # noqa: F811
    request,
    who,
):
    token, key = token_create(actor=None, user=request.getfixturevalue(who), name="fuzz")
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            f"http://127.0.0.1:{server.port}/api/v1/schema/?format=json",
            "--header",
            f"Authorization: Bearer {key}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        # The hooks (tests/fuzz_hooks.py) keep the run's own token from being revoked.
        env={**os.environ, "SERWEB_FUZZ_TOKEN_ID": str(token.pk), "PYTHONPATH": str(ROOT)},
    )
    output = run.stdout + run.stderr
    summary = output[output.rfind("SUMMARY") :]
    print(summary)
    server_log = server.log_path.read_text()[-20000:]
    assert run.returncode == 0, f"{output[-40000:]}\n--- serweb's log:\n{server_log}"
    selected, tested = (
        re.search(r"Selected: (\d+)/\d+", summary),
        re.search(r"Tested: (\d+)", summary),
    )
    assert selected and tested and int(tested[1]) == int(selected[1]) >= MIN_OPERATIONS, summary
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases and int(cases[1]) == int(cases[2]) > 1000, summary
    assert token_authenticate(key) is not None, "the run revoked its own token"
