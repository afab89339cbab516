"""Every write to subscribers, their valid From identities and user aliases.

None of them is sent to the proxies: Kamailio reads subscriber, uri and dbaliases per
request (auth_db, uri_db and alias_db cache nothing), so a change is live at its commit
and costs no reload.
"""

import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from domains.locks import domain_lock
from domains.models import Domain
from domains.names import validate_sip_user
from domains.selectors import domain_realm
from serweb.db import lost_race
from serweb.errors import errors_under
from subscribers import digest
from subscribers.models import Subscriber, UserAlias, ValidFrom

MAX_PASSWORD_LENGTH = 64
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def validate_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise ValidationError({"password": "the password is empty"})
    minimum = settings.SERWEB_MIN_PASSWORD_LENGTH
    if len(password) < minimum:
        raise ValidationError({"password": f"the password needs at least {minimum} characters"})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": f"the password may have at most {MAX_PASSWORD_LENGTH} characters"}
        )
    if _CONTROL_CHARACTERS.search(password):
        raise ValidationError({"password": "the password contains control characters"})
    return password


# Letters and digits without the ones people misread (0/O, 1/l/I) when copying one.
_GENERATED_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_PASSWORD_LENGTH = 20


def password_generate() -> str:
    """A random password for a subscriber (about 116 bits), long enough for any
    SERWEB_MIN_PASSWORD_LENGTH up to MAX_PASSWORD_LENGTH."""
    length = min(
        max(GENERATED_PASSWORD_LENGTH, settings.SERWEB_MIN_PASSWORD_LENGTH), MAX_PASSWORD_LENGTH
    )
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))


def clean_email(email: str) -> str:
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": f"{email!r} is not an e-mail address"}) from None
        # Django's validator takes up to 320 characters; the column holds fewer.
        longest = Subscriber._meta.get_field("email").max_length
        if len(email) > longest:
            raise ValidationError({"email": f"an e-mail address has at most {longest} characters"})
    return email


def credentials(*, username: str, did: str, realm: str, password: str) -> dict[str, str]:
    """The columns a password sets: both hashes, their realm and, if kept, the password."""
    return {
        "ha1": digest.ha1(username, realm, password),
        "ha1b": digest.ha1b(username, did, realm, password),
        "ha1_realm": realm,
        "password": password if settings.SERWEB_STORE_CLEAR_PASSWORDS else "",
    }


def subscriber_snapshot(subscriber: Subscriber) -> dict[str, Any]:
    # The hashes and the password are secrets: never in the audit trail.
    return {
        "username": subscriber.username,
        "did": subscriber.domain.did,
        "email": subscriber.email,
        "enabled": subscriber.enabled,
        "valid_from": sorted(subscriber.valid_froms.values_list("from_user", flat=True)),
    }


def _record(
    actor: Actor, action: str, subscriber: Subscriber, before: dict | None, after: dict | None
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="subscriber",
        object_repr=f"{subscriber.username}@{subscriber.domain.did}",
        domain=subscriber.domain,
        before=before,
        after=after,
    )


def _lock(subscriber: Subscriber, *, deleting: bool = False) -> None:
    """Lock the subscriber's row until the transaction ends, and read it again: its
    identities (valid From users, the aliases leading to it) change under this lock.
    Raises Subscriber.DoesNotExist when a concurrent request deleted it. Who also needs
    the domain's lock takes that one first."""
    locked = Subscriber.objects.select_for_update(no_key=not deleting)
    try:
        subscriber.refresh_from_db(from_queryset=locked)
    except Subscriber.DoesNotExist:
        raise Subscriber.DoesNotExist(f"subscriber {subscriber} does not exist any more") from None


# A user name of a domain is a subscriber's or an alias's, never both: both rules are
# checked under the domain's lock (domain_lock), so concurrent creations take turns.
def _check_user_free(domain: Domain, username: str) -> None:
    if Subscriber.objects.filter(domain=domain, username=username).exists():
        raise ValidationError({"username": f"{username}@{domain.did} exists already"})
    if UserAlias.objects.filter(domain=domain, username=username).exists():
        raise ValidationError(
            {"username": f"{username}@{domain.did} is a user alias; remove the alias first"}
        )


@transaction.atomic
def subscriber_create(
    *,
    actor: Actor,
    domain: Domain,
    username: str,
    password: str,
    email: str = "",
    enabled: bool = True,
) -> Subscriber:
    """Create a digest user; its own user name becomes its first valid From identity."""
    with errors_under("username"):
        clean_username = validate_sip_user(username)
    validate_password(password)
    clean_mail = clean_email(email)
    domain_lock(domain)
    _check_user_free(domain, clean_username)
    # The domain's lock keeps out the application's other writers; the unique key, any
    # other (a bulk import).
    with lost_race(lambda: _check_user_free(domain, clean_username), field="username"):
        subscriber = Subscriber.objects.create(
            domain=domain,
            username=clean_username,
            email=clean_mail,
            enabled=enabled,
            **credentials(
                username=clean_username,
                did=domain.did,
                realm=domain_realm(domain),
                password=password,
            ),
        )
        ValidFrom.objects.create(subscriber=subscriber, from_user=clean_username)
    _record(actor, "subscriber.create", subscriber, None, subscriber_snapshot(subscriber))
    return subscriber


@transaction.atomic
def subscriber_set_password(*, actor: Actor, subscriber: Subscriber, password: str) -> Subscriber:
    validate_password(password)
    domain = subscriber.domain
    # The realm is read under the domain's lock: a concurrent realm change rehashes or
    # counts this subscriber, never misses it.
    domain_lock(domain)
    _lock(subscriber)
    for field, value in credentials(
        username=subscriber.username,
        did=domain.did,
        realm=domain_realm(domain),
        password=password,
    ).items():
        setattr(subscriber, field, value)
    subscriber.updated_at = timezone.now()
    subscriber.save(update_fields=["ha1", "ha1b", "ha1_realm", "password", "updated_at"])
    _record(actor, "subscriber.password", subscriber, None, {"password": "changed"})
    return subscriber


@transaction.atomic
def subscriber_update(
    *, actor: Actor, subscriber: Subscriber, email: str | None = None, enabled: bool | None = None
) -> Subscriber:
    _lock(subscriber)
    before = subscriber_snapshot(subscriber)
    fields = []
    if email is not None:
        subscriber.email = clean_email(email)
        fields.append("email")
    if enabled is not None:
        subscriber.enabled = enabled
        fields.append("enabled")
    if not fields:
        return subscriber
    subscriber.updated_at = timezone.now()
    subscriber.save(update_fields=[*fields, "updated_at"])
    _record(actor, "subscriber.update", subscriber, before, subscriber_snapshot(subscriber))
    return subscriber


@transaction.atomic
def subscriber_delete(*, actor: Actor, subscriber: Subscriber) -> None:
    """Delete a subscriber with its valid From identities and the aliases leading to it."""
    # Locked before the identities are collected: one added meanwhile goes with it.
    _lock(subscriber, deleting=True)
    before = subscriber_snapshot(subscriber)
    before["aliases"] = [f"{a.username}@{a.domain.did}" for a in subscriber.aliases.all()]
    _record(actor, "subscriber.delete", subscriber, before, None)
    subscriber.delete()


def subscribers_rehash_for_realm(*, domain: Domain, realm: str) -> int:
    """After a realm change: rehash the subscribers whose clear password is kept; return
    how many others hold hashes for another realm and so need a new password."""
    stale = Subscriber.objects.filter(domain=domain).exclude(ha1_realm=realm)
    # In id order, as subscriber_clear_passwords_forget locks them.
    for subscriber in stale.exclude(password="").order_by("pk").iterator():
        for field, value in credentials(
            username=subscriber.username,
            did=domain.did,
            realm=realm,
            password=subscriber.password,
        ).items():
            setattr(subscriber, field, value)
        subscriber.save(update_fields=["ha1", "ha1b", "ha1_realm", "password"])
    return stale.filter(password="").count()


@transaction.atomic
def subscriber_clear_passwords_forget(*, actor: Actor) -> int:
    """Once SERWEB_STORE_CLEAR_PASSWORDS is off, empty the clear passwords kept while it
    was on: a secret is not stored where it is not needed. One UPDATE and one audit entry
    with the count; nothing when there is nothing left to forget. Returns the count."""
    if settings.SERWEB_STORE_CLEAR_PASSWORDS:
        return 0
    # Rows locked in id order, as a realm change rehashing kept passwords takes them.
    keeping = Subscriber.objects.exclude(password="").order_by("pk").select_for_update()
    forgotten = Subscriber.objects.filter(pk__in=keeping.values("pk")).update(password="")
    if forgotten:
        audit_record(
            actor=actor,
            action="subscriber.clear_passwords_forget",
            object_type="subscriber",
            object_repr=f"{forgotten} subscriber(s)",
            after={"clear_passwords_forgotten": forgotten},
        )
    return forgotten


# --- valid From identities ----------------------------------------------------------------


def _check_from_user_free(subscriber: Subscriber, from_user: str) -> None:
    if subscriber.valid_froms.filter(from_user=from_user).exists():
        raise ValidationError(
            {"from_user": f"{subscriber} may already present From user {from_user}"}
        )


@transaction.atomic
def valid_from_add(*, actor: Actor, subscriber: Subscriber, from_user: str) -> ValidFrom:
    with errors_under("from_user"):
        clean = validate_sip_user(from_user, what="From user name")
    _lock(subscriber)
    _check_from_user_free(subscriber, clean)
    before = subscriber_snapshot(subscriber)
    with lost_race(lambda: _check_from_user_free(subscriber, clean), field="from_user"):
        entry = ValidFrom.objects.create(subscriber=subscriber, from_user=clean)
    _record(actor, "validfrom.add", subscriber, before, subscriber_snapshot(subscriber))
    return entry


@transaction.atomic
def valid_from_remove(*, actor: Actor, subscriber: Subscriber, from_user: str) -> None:
    _lock(subscriber)
    entry = subscriber.valid_froms.filter(from_user=(from_user or "").strip()).first()
    if entry is None:
        raise ValidationError({"from_user": f"{subscriber} has no valid From user {from_user!r}"})
    before = subscriber_snapshot(subscriber)
    entry.delete()
    _record(actor, "validfrom.remove", subscriber, before, subscriber_snapshot(subscriber))


# --- user aliases -------------------------------------------------------------------------


def _alias_repr(alias: UserAlias) -> dict[str, str]:
    return {
        "alias": f"{alias.username}@{alias.domain.did}",
        "subscriber": f"{alias.subscriber.username}@{alias.subscriber.domain.did}",
    }


def _check_alias_free(domain: Domain, username: str) -> None:
    if UserAlias.objects.filter(domain=domain, username=username).exists():
        raise ValidationError({"username": f"{username}@{domain.did} is already an alias"})
    if Subscriber.objects.filter(domain=domain, username=username).exists():
        raise ValidationError(
            {"username": f"{username}@{domain.did} is a subscriber; an alias cannot shadow it"}
        )


@transaction.atomic
def user_alias_add(
    *, actor: Actor, domain: Domain, username: str, subscriber: Subscriber
) -> UserAlias:
    """Let ``username@domain`` lead to ``subscriber`` (a phone number, a role address)."""
    with errors_under("username"):
        clean = validate_sip_user(username, what="alias user name")
    domain_lock(domain)
    _lock(subscriber)
    _check_alias_free(domain, clean)
    with lost_race(lambda: _check_alias_free(domain, clean), field="username"):
        alias = UserAlias.objects.create(domain=domain, username=clean, subscriber=subscriber)
    audit_record(
        actor=actor,
        action="alias.add",
        object_type="user_alias",
        object_repr=f"{clean}@{domain.did}",
        domain=domain,
        after=_alias_repr(alias),
    )
    return alias


@transaction.atomic
def user_alias_remove(*, actor: Actor, alias: UserAlias) -> None:
    domain_lock(alias.domain)
    if not UserAlias.objects.filter(pk=alias.pk).exists():
        raise UserAlias.DoesNotExist(f"user alias {alias} does not exist any more")
    audit_record(
        actor=actor,
        action="alias.remove",
        object_type="user_alias",
        object_repr=f"{alias.username}@{alias.domain.did}",
        domain=alias.domain,
        before=_alias_repr(alias),
    )
    alias.delete()
