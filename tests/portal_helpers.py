"""Shared by the portal's tests: reading pages, signing in, second-factor codes."""

import base64
import hashlib
import hmac
import struct
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.test.html import Element, parse_html
from django.utils import timezone

from domains.dns.claims import domain_claim_start
from domains.models import DomainCheck, DomainOrigin, DomainState, Tenant
from domains.services import domain_create
from proxies.models import Proxy, ProxyTransport
from proxies.services import proxy_create

SIGN_IN = "/accounts/login/"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def page_tree(response) -> Element:
    return parse_html(response.content.decode())


def elements(root: Element, tag: str | None = None, **attributes: str) -> Iterator[Element]:
    """Every element under ``root`` with this tag and these attribute values (``class_``
    for class)."""
    for child in root.children:
        if isinstance(child, str):
            continue
        attrs = dict(child.attributes)
        if (tag is None or child.name == tag) and all(
            attrs.get(key.rstrip("_")) == value for key, value in attributes.items()
        ):
            yield child
        yield from elements(child, tag, **attributes)


def attrs_of(element: Element) -> dict[str, str | None]:
    return dict(element.attributes)


def text_of(element: Element | str) -> str:
    if isinstance(element, str):
        return element
    return " ".join(text_of(child) for child in element.children).strip()


def sign_in(client, username: str, password: str, **extra):
    return client.post(SIGN_IN, {"login": username, "password": password}, **extra)


def totp_code(secret: str, *, at: float | None = None, step: int = 30) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits): what an authenticator app shows at ``at``."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(
        base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def add_world(operator, tenant: Tenant, fifo_dir: Path, size: int) -> None:
    """``size`` of everything the dashboard shows."""
    now = timezone.now()
    # As many claims as the world needs, whatever a new tenant may hold.
    Tenant.objects.filter(pk=tenant.pk).update(domain_quota=10**6, pending_claim_limit=10**6)
    start = Proxy.objects.count()  # names go on from what a previous call added
    for i in range(start, start + size):
        domain_create(actor=operator, name=f"op{i}.example.com")
        domain_create(
            actor=operator,
            name=f"t{i}.example.com",
            tenant=tenant,
            origin=DomainOrigin.TENANT,
            state=DomainState.PENDING,
        )
        domain_create(
            actor=operator, name=f"dns{i}.example.com", origin=DomainOrigin.DNS, enabled=False
        )
        suspect = domain_create(
            actor=operator, name=f"suspect{i}.example.com", state=DomainState.SUSPECT
        )
        DomainCheck.objects.create(
            domain=suspect,
            verdict="absent",
            outcome="negative",
            negatives=1,
            first_negative_at=now - timedelta(hours=10),
            last_negative_at=now - timedelta(hours=10),
        )
        domain_claim_start(actor=tenant.owner, tenant=tenant, name=f"claim{i}.example.org")
        proxy = proxy_create(
            actor=operator,
            name=f"edge-{i}",
            transport=ProxyTransport.FIFO,
            address=str(fifo_dir / f"edge-{i}.fifo"),
        )
        Proxy.objects.filter(pk=proxy.pk).update(
            last_error=f"edge-{i}.fifo does not exist: Kamailio is not running",
            last_error_at=now,
            failures=1,
        )


def field_errors(response) -> dict[str, str]:
    """The errors a page shows next to its fields, by field name (the id Django gives a
    field's error, ``id_<name>_error``), and those of no field under ``__all__``."""
    root = page_tree(response)
    found = {
        attrs_of(small)["id"].removeprefix("id_").removesuffix("_error"): text_of(small)
        for small in elements(root, "small", class_="field-errors")
    }
    alerts = [text_of(alert) for alert in elements(root, "div", class_="form-errors")]
    if alerts:
        found["__all__"] = " ".join(alerts)
    return found


def flash_messages(response) -> list[str]:
    """The messages a page shows after an action, without the level written before each
    ("Done:", "Error:"), errors and warnings included."""
    found = []
    for paragraph in elements(page_tree(response), "p"):
        if not (attrs_of(paragraph).get("class") or "").startswith("message "):
            continue
        words = [
            text_of(child)
            for child in paragraph.children
            if isinstance(child, str) or attrs_of(child).get("class") != "message-level"
        ]
        found.append(" ".join(" ".join(words).split()))
    return found
