"""Tenants who sign up themselves: a tenant and its owner account at once, waiting for the
owner to prove its e-mail address before it may do anything."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_acting, audit_record
from domains.models import Tenant
from domains.services import tenant_create
from serweb.errors import error_fields

SIGNUP_CLOSED = "this serweb takes no sign-ups: ask its operators for an account"


def signup_open() -> bool:
    return settings.SERWEB_TENANT_SIGNUP


@transaction.atomic
def tenant_sign_up(*, name: str, username: str, email: str, password: str) -> Tenant:
    """A new tenant owned by a new account, which signs in with ``password`` and is
    confirmed once its owner follows the link mailed to ``email``."""
    if not signup_open():
        raise ValidationError(SIGNUP_CLOSED)
    if not (email or "").strip():
        raise ValidationError({"email": "an e-mail address is needed to confirm the account"})
    # Nobody is signed in yet: the entries name the account being made.
    try:
        with audit_acting(name=(username or "").strip()):
            tenant = tenant_create(
                actor=None,
                name=name,
                owner_username=username,
                email=email.strip(),
                password=password,
                confirmed=False,
            )
    except ValidationError as exc:
        # The owner's login is this service's ``username``.
        raise ValidationError(error_fields(exc, fields={"owner_username": "username"})) from None
    return tenant


@transaction.atomic
def tenant_confirm(*, tenant: Tenant) -> Tenant:
    """The owner proved its address: the tenant may claim domains. Confirming twice is
    confirming once."""
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if locked.confirmed_at is None:
        locked.confirmed_at = timezone.now()
        locked.save(update_fields=["confirmed_at"])
        audit_record(
            actor=locked.owner,
            action="tenant.confirm",
            object_type="tenant",
            object_repr=locked.name,
            tenant=locked,
            after={"confirmed": True},
        )
    return locked
