"""Schemathesis hooks for the API fuzzing (tests/test_api_fuzz.py), loaded by its CLI.

Tests talk to loopback only: a proxy the fuzzer creates is reloaded after every domain
change, so its addresses are pointed at closed loopback ports before the request leaves.
The token the run authenticates with is not revoked by the run itself.
"""

import os
import re

import schemathesis

_HOST_PORT = re.compile(r".+:\d+")


def _loopback(address):
    if not isinstance(address, str):
        return address
    stripped = address.strip()
    if stripped.startswith(("http://", "https://")):
        return "http://127.0.0.1:9/"
    if stripped.startswith("/"):
        return "/nonexistent/serweb-fuzz/kamailio_rpc.fifo"
    if _HOST_PORT.fullmatch(stripped):
        return "127.0.0.1:9"
    return address


@schemathesis.hook
def before_call(context, case, kwargs):
    path, method = case.operation.path, case.method.upper()
    if path.endswith("/proxies/") and method == "POST" and isinstance(case.body, dict):
        for field in ("address", "sip_address"):
            if field in case.body:
                case.body[field] = _loopback(case.body[field])
    if path.endswith("/tokens/{id}/") and method == "DELETE":
        if str((case.path_parameters or {}).get("id")) == os.environ["SERWEB_FUZZ_TOKEN_ID"]:
            case.path_parameters["id"] = 0
