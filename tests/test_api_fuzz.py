"""Property-based fuzzing of the whole API from its own OpenAPI schema.

Every operation gets generated requests (valid and invalid data), as an operator and as a
tenant; path parameters often name objects that exist, so the fuzzing reaches past the
404s. No answer may be a server error, and every answer must conform to the schema.
Bounded by the number of examples per operation.
"""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serweb.wsgi import application
from tests.api_helpers import client_for, world  # noqa: F401

EXAMPLES_PER_OPERATION = 25
# Django refuses NUL characters in every text input (400), which OpenAPI cannot say short
# of a pattern on every string; such "schema-valid" requests are rightly rejected.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]
# Path parameters that lead to the objects of the `world` fixture.
EXISTING = {
    "did": ["bob.example", "op.example"],
    "username": ["sam", "100"],
    "name": ["sip.bob.example", "max_contacts", "realm"],
    "from_user": ["sam"],
}


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection after each request, which would
    end the test's transaction; Django's own test client holds these signals off too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _operations():
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, authorization: str) -> None:
    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case, data):
        for parameter, values in EXISTING.items():
            if case.path_parameters and parameter in case.path_parameters:
                generated = case.path_parameters[parameter]
                case.path_parameters[parameter] = data.draw(st.sampled_from([*values, generated]))
        case.call_and_validate(
            headers={"Authorization": authorization}, excluded_checks=EXCLUDED_CHECKS
        )

    run()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_every_operation_conforms_to_the_schema(
    world,  # noqa: F811
    keep_test_connection,
    request,
    who,
):
    authorization = client_for(request.getfixturevalue(who))._credentials["HTTP_AUTHORIZATION"]
    operations = _operations()
    assert len(operations) >= 30
    failures = {}
    for operation in operations:
        try:
            _fuzz(operation, authorization)
        except Exception as exc:  # every failing operation is reported, not just the first
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
