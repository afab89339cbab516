from allauth.account.internal.flows.email_verification import send_verification_email_for_user
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from domains.selectors import actor_tenant


@require_POST
@login_required
def resend_confirmation(request):
    """The confirmation link once more (allauth limits how often an address gets one)."""
    tenant = actor_tenant(request.user)
    if tenant is None or tenant.confirmed_at is not None:
        raise Http404
    if send_verification_email_for_user(request, request.user):
        messages.success(request, f"The link is on its way to {request.user.email}.")
    else:
        messages.warning(request, "A link was sent a moment ago: wait a little, then try again.")
    return redirect("portal:home")
