"""Every write to the proxies serweb reloads: atomic, validated, audited.

A new proxy starts at generation 0: the drift check, ``proxy reload`` or the next change
brings it up to date. Bad input raises django.core.exceptions.ValidationError.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import Actor, audit_record
from proxies import transport
from proxies.models import Proxy, ProxyTransport
from serweb.db import lost_race
from serweb.errors import errors_under


def proxy_address_clean(kind: str, address: str) -> str:
    """The address, stripped, if it suits the transport ``kind``; else ValidationError,
    about ``address`` or, for an unknown kind, ``transport``. (Backups are checked with it
    before a restore.)"""
    address = (address or "").strip()
    if kind not in ProxyTransport.values:
        raise ValidationError({"transport": f"unknown transport {kind!r}"})
    if not address:
        raise ValidationError({"address": "the proxy's address is empty"})
    if kind == ProxyTransport.FIFO:
        if not address.startswith("/"):
            raise ValidationError({"address": f"{address!r}: a FIFO path must be absolute"})
    elif kind == ProxyTransport.UDP:
        try:
            transport.split_host_port(address)
        except transport.ProxyError as exc:
            raise ValidationError({"address": str(exc)}) from None
    elif not address.startswith(("http://", "https://")):
        raise ValidationError({"address": f"{address!r}: expected an http:// or https:// URL"})
    return address


def _check_proxy_name_free(name: str) -> None:
    if Proxy.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a proxy named {name} exists already"})


@transaction.atomic
def proxy_create(
    *, actor: Actor, name: str, transport: str, address: str, sip_address: str = ""
) -> Proxy:
    """``sip_address`` (HOST:PORT, optional): where the proxy answers SIP over UDP, for the
    OPTIONS probes that confirm a reload."""
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 64:
        raise ValidationError({"name": "a proxy needs a name of 1 to 64 characters"})
    _check_proxy_name_free(clean_name)
    clean_address = proxy_address_clean(transport, address)
    clean_sip = (sip_address or "").strip()
    if clean_sip:
        with errors_under("sip_address"):
            clean_sip = proxy_address_clean(ProxyTransport.UDP, clean_sip)
    with lost_race(lambda: _check_proxy_name_free(clean_name), field="name"):
        proxy = Proxy.objects.create(
            name=clean_name, transport=transport, address=clean_address, sip_address=clean_sip
        )
    audit_record(
        actor=actor,
        action="proxy.create",
        object_type="proxy",
        object_repr=clean_name,
        after={
            "name": clean_name,
            "transport": transport,
            "address": clean_address,
            "sip_address": clean_sip,
        },
    )
    return proxy


@transaction.atomic
def proxy_delete(*, actor: Actor, proxy: Proxy) -> None:
    # Locked first: of two concurrent deletions, the second finds nothing to delete.
    if not Proxy.objects.select_for_update().filter(pk=proxy.pk).exists():
        raise Proxy.DoesNotExist(f"proxy {proxy.name} does not exist any more")
    audit_record(
        actor=actor,
        action="proxy.delete",
        object_type="proxy",
        object_repr=proxy.name,
        before={"name": proxy.name, "transport": proxy.transport, "address": proxy.address},
    )
    proxy.delete()
