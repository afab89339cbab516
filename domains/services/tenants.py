"""Tenants: the customers who own domains, each with one owner account that logs in."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from domains.locks import domains_lock
from domains.models import Domain, Tenant
from domains.selectors import TenantNotFound
from domains.services.domain import domain_disable, domain_enable
from serweb.db import lost_race
from serweb.errors import errors_under


def _tenant_name_clean(name: str) -> str:
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        raise ValidationError({"name": "a tenant needs a name of 1 to 100 characters"})
    return clean_name


def _check_tenant_free(name: str, owner_username: str) -> None:
    if Tenant.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"a tenant named {name} exists already"})
    if not owner_username or get_user_model().objects.filter(username=owner_username).exists():
        raise ValidationError(
            {"owner_username": f"the account {owner_username!r} is taken or empty"}
        )


@transaction.atomic
def tenant_create(
    *,
    actor: Actor,
    name: str,
    owner_username: str,
    email: str = "",
    password: str | None = None,
    confirmed: bool = True,
) -> Tenant:
    """A tenant with a new owner account, which logs in with ``password`` (without one, it
    gets a password or an API token from an operator later). An unconfirmed one waits for
    its owner to prove its e-mail address (domains/signup.py)."""
    users = get_user_model()
    clean_name = _tenant_name_clean(name)
    username = (owner_username or "").strip()
    with errors_under("owner_username"):
        users.username_validator(username)
    _check_tenant_free(clean_name, username)
    # Tenant names are unique ignoring case (a functional unique index), owner names as
    # they are: a concurrent creation of either makes this one the serial refusal.
    with lost_race(lambda: _check_tenant_free(clean_name, username), field="name"):
        owner = users.objects.create_user(username=username, email=email or "")
        tenant = Tenant.objects.create(
            name=clean_name, owner=owner, confirmed_at=timezone.now() if confirmed else None
        )
    audit_record(
        actor=actor,
        action="tenant.create",
        object_type="tenant",
        object_repr=clean_name,
        after={"name": clean_name, "owner": username},
    )
    if password is not None:
        tenant_set_password(actor=actor, tenant=tenant, password=password)
    return tenant


@transaction.atomic
def tenant_set_password(*, actor: Actor, tenant: Tenant, password: str) -> Tenant:
    """Give the tenant's owner account a password to log in with (Django's validators)."""
    owner = tenant.owner
    with errors_under("password"):
        validate_password(password, user=owner)
    owner.set_password(password)
    owner.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="tenant.set_password",
        object_type="tenant",
        object_repr=tenant.name,
        after={"password": "changed"},  # never the password
    )
    return tenant


def _check_tenant_name_free(name: str, *, other_than: int) -> None:
    if Tenant.objects.filter(name__iexact=name).exclude(pk=other_than).exists():
        raise ValidationError({"name": f"a tenant named {name} exists already"})


@transaction.atomic
def tenant_update(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    email: str,
    domain_quota: int | None = None,
    pending_claim_limit: int | None = None,
) -> Tenant:
    """Rename the tenant (unique ignoring case), change its owner's e-mail address (where
    a password reset is sent), or what it may hold (None: as it is). The owner's login
    stays: it is who signs in."""
    clean_name = _tenant_name_clean(name)
    clean_email = (email or "").strip()
    if clean_email:
        with errors_under("email"):
            validate_email(clean_email)
    locked = Tenant.objects.select_for_update().select_related("owner").filter(pk=tenant.pk)
    current = locked.first()
    if current is None:
        raise TenantNotFound(f"tenant {tenant.name} does not exist any more")
    owner = current.owner
    before, after = {}, {}
    if current.name != clean_name:
        _check_tenant_name_free(clean_name, other_than=current.pk)
        before["name"], after["name"] = current.name, clean_name
        current.name = clean_name
        with lost_race(
            lambda: _check_tenant_name_free(clean_name, other_than=current.pk), field="name"
        ):
            current.save(update_fields=["name"])
    if owner.email != clean_email:
        before["email"], after["email"] = owner.email, clean_email
        owner.email = clean_email
        owner.save(update_fields=["email"])
    limits = {"domain_quota": domain_quota, "pending_claim_limit": pending_claim_limit}
    for field, value in limits.items():
        if value is None or value == getattr(current, field):
            continue
        if not 0 <= value <= 1_000_000:
            raise ValidationError({field: "between 0 and 1000000"})
        before[field], after[field] = getattr(current, field), value
        setattr(current, field, value)
        current.save(update_fields=[field])
    if after:
        audit_record(
            actor=actor,
            action="tenant.update",
            object_type="tenant",
            object_repr=current.name,
            before=before,
            after=after,
        )
    return current


@transaction.atomic
def tenant_set_active(
    *, actor: Actor, tenant: Tenant, active: bool, domains: bool = False
) -> list[Domain]:
    """Let the tenant's owner log in and use its tokens, or stop it; with ``domains`` also
    switch every domain of the tenant on or off (the operator's switch). Returns the
    domains that changed."""
    owner = tenant.owner
    if owner.is_active != active:
        owner.is_active = active
        owner.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="tenant.enable" if active else "tenant.disable",
            object_type="tenant",
            object_repr=tenant.name,
            before={"active": not active},
            after={"active": active},
        )
    if not domains:
        return []
    switch = domain_enable if active else domain_disable
    locked = domains_lock(tenant.domains.filter(enabled=not active).values_list("pk", flat=True))
    # Read again under the locks: moved or switched meanwhile, a domain is left alone.
    return [
        switch(actor=actor, domain=domain)
        for domain in locked.values()
        if domain.tenant_id == tenant.pk and domain.enabled != active
    ]
