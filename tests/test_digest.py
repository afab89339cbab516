import hashlib

from subscribers import digest


def test_ha1_matches_rfc_2617_example():
    # RFC 2617 section 3.5: Mufasa, testrealm@host.com, "Circle Of Life".
    assert digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )


def test_ha1b_hashes_the_user_with_the_did():
    expected = hashlib.md5(b"alice@example.com:example.com:secret").hexdigest()
    assert digest.ha1b("alice", "example.com", "example.com", "secret") == expected
