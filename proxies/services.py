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
    """The address, stripped, if it suits the transport ``kind``; else ValidationError.
    (Backups are checked with it before a restore.)"""
    address = (address or "").strip()
    if not address:
        raise ValidationError("the proxy's address is empty")
    if kind == ProxyTransport.FIFO:
        if not address.startswith("/"):
            raise ValidationError(f"{address!r}: a FIFO path must be absolute")
    elif kind == ProxyTransport.UDP:
        try:
            transport.split_host_port(address)
        except transport.ProxyError as exc:
            raise ValidationError(str(exc)) from None
    elif kind == ProxyTransport.HTTP:
        if not address.startswith(("http://", "https://")):
            raise ValidationError(f"{address!r}: expected an http:// or https:// URL")
    else:
        raise ValidationError(f"unknown transport {kind!r}")
    return address


def _check_proxy_name_free(name: str, *, other_than: int | None = None) -> None:
    if Proxy.objects.filter(name=name).exclude(pk=other_than).exists():
        raise ValidationError({"name": f"a proxy named {name} exists already"})


def _proxy_fields_clean(
    *, name: str, transport: str, address: str, sip_address: str
) -> dict[str, str]:
    """The fields of a proxy, cleaned; else ValidationError keyed by the argument."""
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 64:
        raise ValidationError({"name": "a proxy needs a name of 1 to 64 characters"})
    if transport not in ProxyTransport.values:
        choices = ", ".join(ProxyTransport.values)
        raise ValidationError({"transport": f"unknown transport {transport!r}: {choices}"})
    with errors_under("address"):
        clean_address = proxy_address_clean(transport, address)
    clean_sip = (sip_address or "").strip()
    if clean_sip:
        with errors_under("sip_address"):
            clean_sip = proxy_address_clean(ProxyTransport.UDP, clean_sip)
    return {
        "name": clean_name,
        "transport": transport,
        "address": clean_address,
        "sip_address": clean_sip,
    }


@transaction.atomic
def proxy_create(
    *, actor: Actor, name: str, transport: str, address: str, sip_address: str = ""
) -> Proxy:
    """``sip_address`` (HOST:PORT, optional): where the proxy answers SIP over UDP, for the
    OPTIONS probes that confirm a reload."""
    fields = _proxy_fields_clean(
        name=name, transport=transport, address=address, sip_address=sip_address
    )
    _check_proxy_name_free(fields["name"])
    with lost_race(lambda: _check_proxy_name_free(fields["name"]), field="name"):
        proxy = Proxy.objects.create(**fields)
    audit_record(
        actor=actor,
        action="proxy.create",
        object_type="proxy",
        object_repr=proxy.name,
        after=fields,
    )
    return proxy


# What serweb knows of what a proxy loaded and how its reloads went: it belongs to the
# Kamailio at the old address, not to one reached another way.
_RELOAD_STATE_UNKNOWN = {
    "applied_generation": 0,
    "applied_changed_at": None,
    "last_verified_at": None,
    "failures": 0,
    "next_retry_at": None,
    "last_error": "",
    "last_error_at": None,
    "shm_total": None,
    "shm_free": None,
    "shm_checked_at": None,
}


@transaction.atomic
def proxy_update(
    *,
    actor: Actor,
    proxy: Proxy,
    name: str,
    transport: str,
    address: str,
    sip_address: str,
    enabled: bool,
) -> Proxy:
    """Rename a proxy, change where serweb reaches it, or switch its reloads on or off.

    A new transport or address may be another Kamailio: serweb forgets what the old one
    loaded, so the proxy counts as having loaded nothing until its next reload (``proxy
    reload``, "reload now" or the drift check). A disabled proxy is not reloaded."""
    fields = _proxy_fields_clean(
        name=name, transport=transport, address=address, sip_address=sip_address
    )
    fields["enabled"] = bool(enabled)
    # Locked: of two concurrent edits the second sees the first's result.
    current = Proxy.objects.select_for_update().filter(pk=proxy.pk).first()
    if current is None:
        raise Proxy.DoesNotExist(f"proxy {proxy.name} does not exist any more")
    changed = {key: value for key, value in fields.items() if getattr(current, key) != value}
    if not changed:
        return current
    if "name" in changed:
        _check_proxy_name_free(fields["name"], other_than=current.pk)
    before = {key: getattr(current, key) for key in changed}
    updates = dict(changed)
    if "transport" in changed or "address" in changed:
        updates.update(_RELOAD_STATE_UNKNOWN)
    for key, value in updates.items():
        setattr(current, key, value)
    with lost_race(
        lambda: _check_proxy_name_free(fields["name"], other_than=current.pk), field="name"
    ):
        current.save(update_fields=list(updates))
    audit_record(
        actor=actor,
        action="proxy.update",
        object_type="proxy",
        object_repr=current.name,
        before=before,
        after=changed,
    )
    return current


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
