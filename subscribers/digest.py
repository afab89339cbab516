"""HTTP digest credentials as Kamailio's auth_db reads them (calculate_ha1=0).

Pure functions; no Django imports.
"""

import hashlib


def ha1(username: str, realm: str, password: str) -> str:
    """md5(username:realm:password), for a digest user name without a domain part."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


def ha1b(username: str, did: str, realm: str, password: str) -> str:
    """md5(username@did:realm:password), for a digest user name written user@domain."""
    return hashlib.md5(f"{username}@{did}:{realm}:{password}".encode()).hexdigest()
