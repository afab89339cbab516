"""An API address typed without its final slash: sent on with 308, method and body kept,
with DEBUG on or off; an address that leads nowhere either way stays a JSON 404."""

import pytest

from domains.models import Domain
from tests.api_helpers import client_for


@pytest.fixture
def operator(alice):
    client = client_for(alice)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("debug", [False, True])
def test_a_post_without_the_final_slash_is_sent_on_with_its_method(operator, settings, debug):
    settings.DEBUG = debug
    response = operator.post("/api/v1/domains?x=1", {"name": "slash.example"}, format="json")
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/domains/?x=1"
    assert not Domain.objects.exists()

    followed = operator.post(response["Location"], {"name": "slash.example"}, format="json")
    assert followed.status_code == 201, followed.content
    assert Domain.objects.filter(did="slash.example").exists()


def test_a_get_without_the_final_slash_is_sent_on_too(operator):
    response = operator.get("/api/v1/domains")
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/domains/"


def test_an_address_that_leads_nowhere_stays_a_json_404(operator):
    for path in ("/api/v1/nothing", "/api/v1/nothing/"):
        response = operator.post(path, {}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
