"""The whole API fuzzed from its own OpenAPI schema, over HTTP, against a live server.

Schemathesis runs as its own process against the test server on a loopback port, once
with an operator's token and once with a tenant's, each on a fresh database holding the
`world` fixture's objects. tests/schemathesis.toml sets what runs: every phase (the
schema's examples; coverage, with negative data and unexpected methods such as OPTIONS;
fuzzing; stateful sequences that reuse what earlier answers created), every check except
positive_data_acceptance, derandomized, a few minutes in all. The test fails on any server
error and on any answer the schema does not allow.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.services import token_authenticate, token_create
from tests.api_helpers import world  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MIN_OPERATIONS = 40


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    live_server,
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
            f"{live_server.url}/api/v1/schema/?format=json",
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
    assert run.returncode == 0, output[-40000:]
    selected, tested = (
        re.search(r"Selected: (\d+)/\d+", summary),
        re.search(r"Tested: (\d+)", summary),
    )
    assert selected and tested and int(tested[1]) == int(selected[1]) >= MIN_OPERATIONS, summary
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases and int(cases[1]) == int(cases[2]) > 1000, summary
    assert token_authenticate(key) is not None, "the run revoked its own token"
