"""Tenants who sign up themselves: a tenant and its owner account at once, waiting for the
owner to prove its e-mail address before it may do anything; and tenants an operator
invites, whose owner chooses a password through a link mailed to it."""

import smtplib

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audit.services import Actor, audit_acting, audit_record
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


def invitation_days() -> int:
    """How long an invitation's link works: as long as a password reset link."""
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)


@transaction.atomic
def tenant_invite(*, actor: Actor, tenant: Tenant, base_url: str = "") -> str:
    """Mail the tenant's owner a link (under ``base_url``, the address the inviting request
    came to, else SERWEB_PUBLIC_URL) to choose its password and sign in; the address it
    went to. Inviting again sends a new link; the old ones stop working once a password is
    chosen."""
    base_url = base_url or settings.SERWEB_PUBLIC_URL
    if not base_url:
        raise ValidationError(
            "SERWEB_PUBLIC_URL is not set: serweb does not know the portal's address for the link"
        )
    locked = Tenant.objects.select_for_update().select_related("owner").get(pk=tenant.pk)
    owner = locked.owner
    if not owner.email:
        raise ValidationError({"email": "the owner has no e-mail address to invite"})
    if not owner.is_active:
        raise ValidationError(f"tenant {locked.name} is disabled: enable it first")
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(owner),
            "key": default_token_generator.make_token(owner),
        },
    )
    context = {
        "tenant": locked,
        "username": owner.username,
        "link": base_url.rstrip("/") + path,
        "days": invitation_days(),
    }
    subject = (
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}You are invited to run {locked.name} on serweb"
    )
    body = render_to_string("domains/mail/invite.txt", context)
    try:
        # Sent before the commit: an invitation the mail server refused is not recorded.
        send_mail(subject, body, None, [owner.email])
    except (OSError, smtplib.SMTPException) as exc:
        raise ValidationError(f"the mail server did not take the invitation: {exc}") from None
    audit_record(
        actor=actor,
        action="tenant.invite",
        object_type="tenant",
        object_repr=locked.name,
        tenant=locked,
        after={"email": owner.email},  # never the link: it sets the password
    )
    return owner.email
