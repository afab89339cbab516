"""The proxy's lookup answers "not ours" (404) and "ask again later" (503), which must not
flood the log."""

import logging

from tests import test_lookup

URL = test_lookup.URL


# Every test starts with empty answer caches, as in the lookup's own tests.
fresh_caches = test_lookup.fresh_caches


def request_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "django.request"]


def test_not_ours_answers_leave_no_log_line(client, db, caplog, settings):
    settings.SERWEB_DNS_AUTO_LEARN = False
    caplog.set_level(logging.INFO)

    answers = [client.get(URL, {"host": f"random{n}.example.org"}) for n in range(50)]

    assert {answer.status_code for answer in answers} == {404}
    assert request_warnings(caplog) == []


def test_ask_again_later_answers_leave_no_log_line(client, db, caplog, settings):
    settings.SERWEB_DNS_AUTO_LEARN = True
    settings.SERWEB_LOOKUP_DNS_PER_MINUTE = 0  # every DNS check is over the limit
    caplog.set_level(logging.INFO)

    answers = [client.get(URL, {"host": f"random{n}.example.org"}) for n in range(20)]

    assert {answer.status_code for answer in answers} == {503}
    assert all(answer["Retry-After"] for answer in answers)
    assert request_warnings(caplog) == []


def test_other_not_found_pages_are_still_logged(client, db, caplog):
    caplog.set_level(logging.INFO)

    assert client.get("/no/such/page").status_code == 404
    assert client.get("/proxy/lookup/extra", {"host": "x.example.org"}).status_code == 404

    assert request_warnings(caplog) == [
        "Not Found: /no/such/page",
        "Not Found: /proxy/lookup/extra",
    ]


def test_other_answers_of_the_lookup_are_still_logged(client, db, caplog, settings):
    caplog.set_level(logging.INFO)
    settings.SERWEB_LOOKUP_CLIENTS = ["10.0.0.0/8"]

    assert client.get(URL, {"host": "x.example.org"}).status_code == 403
    settings.SERWEB_LOOKUP_CLIENTS = ["127.0.0.1/32"]
    assert client.get(URL, {"host": "bad_label..example"}).status_code == 400

    assert request_warnings(caplog) == [f"Forbidden: {URL}", f"Bad Request: {URL}"]


def test_the_filter_is_on_the_request_logger():
    names = {type(f).__name__ for f in logging.getLogger("django.request").filters}

    # A set: every logging setup (django.setup() again, as commands do) adds it once more.
    assert names == {"DropLookupNotFound"}
