import idna
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from domains.names import (
    NameKind,
    normalize_did,
    normalize_host,
    split_address,
    validate_sip_user,
)


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        ("Example.COM.", "example.com", NameKind.HOSTNAME),
        ("  sip.example.com ", "sip.example.com", NameKind.HOSTNAME),
        # IDNA 2008: ß is kept (IDNA 2003 would make it another domain, strasse.de).
        ("straße.de", "xn--strae-oqa.de", NameKind.HOSTNAME),
        ("MÜNCHEN.de", "xn--mnchen-3ya.de", NameKind.HOSTNAME),
        ("192.0.2.1", "192.0.2.1", NameKind.IPV4),
        ("2001:DB8:0:0::1", "[2001:db8::1]", NameKind.IPV6),
        ("[2001:db8::1]", "[2001:db8::1]", NameKind.IPV6),
        # An IPv4-mapped IPv6 address is the IPv4 host: stored as that one name.
        ("::ffff:192.0.2.12", "192.0.2.12", NameKind.IPV4),
        ("[::FFFF:c000:20c]", "192.0.2.12", NameKind.IPV4),
        ("::ffff:0:192.0.2.12", "[::ffff:0:c000:20c]", NameKind.IPV6),
    ],
)
def test_normalize_host_accepts_and_normalises(raw, value, kind):
    host = normalize_host(raw)
    assert (host.value, host.kind) == (value, kind)


def test_idn_is_shown_in_unicode():
    assert normalize_host("straße.de").display == "straße.de"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a..b.com", "empty label"),
        ("-bad.example.com", "not a valid"),
        ("bad_label.example.com", "not a valid"),
        ("localhost", "at least two labels"),
        ("1.2.3", "numeric top label"),
        ("[192.0.2.1]", "only IPv6"),
        ("fe80::1%eth0", "scoped IPv6"),
        ("a" * 60 + ".example.com", "at most 64"),
        ("x" * 64 + ".com", "at most 64"),
        ("ab--cd.example.com", "not a valid"),
        ("xn--zz.example.com", "not a valid"),
    ],
)
def test_normalize_host_refuses_with_a_clear_message(raw, message):
    with pytest.raises(ValidationError) as excinfo:
        normalize_host(raw)
    assert message in " ".join(excinfo.value.messages)


def test_did_rules():
    assert normalize_did("Tenant-42.Example") == "tenant-42.example"
    for bad in ["", "-x", "x y", "a" * 65]:
        with pytest.raises(ValidationError):
            normalize_did(bad)


def test_sip_user_keeps_case_and_refuses_delimiters():
    assert validate_sip_user("Alice.Smith") == "Alice.Smith"
    assert validate_sip_user("+4930123") == "+4930123"
    for bad in ["", "a b", "a@b", "a:b", "a;b", "x" * 65]:
        with pytest.raises(ValidationError):
            validate_sip_user(bad)


def test_split_address():
    user, host = split_address("sip:alice@Example.COM")
    assert (user, host.value) == ("alice", "example.com")
    with pytest.raises(ValidationError, match="USER@DOMAIN"):
        split_address("alice")


@given(st.from_regex(r"\A[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){1,3}\Z"))
def test_plain_ascii_names_are_judged_as_idna_judges_them(text):
    """The fast path for plain names agrees with the IDNA library it skips."""
    try:
        expected = idna.encode(text, uts46=True, transitional=False).decode()
    except idna.IDNAError:
        expected = None
    try:
        value = normalize_host(text).value
    except ValidationError:
        value = None
    if expected is None:
        assert value is None
    elif value is not None:
        assert value == expected
