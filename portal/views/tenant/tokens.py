"""A tenant's own API tokens: listed, created (the key shown once, on the answer to that
request), revoked. Only the owner's tokens: another's is one that does not exist."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST

from api.models import ApiToken
from api.services import token_create, token_revoke
from portal.access import tenant_required
from portal.forms import posted
from portal.forms.tenant import TokenForm
from serweb.errors import add_to_form


@tenant_required
def token_list(request):
    form = TokenForm(posted(request))
    key = None
    if request.method == "POST" and form.is_valid():
        try:
            token, key = token_create(
                actor=request.user, user=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, f"Token {token.name} created: copy its key now.")
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")
    context = {"form": form, "tokens": tokens, "key": key}
    response = render(request, "portal/tenant/tokens.html", context)
    patch_cache_control(response, no_store=True, private=True)
    return response


@tenant_required
@require_POST
def revoke(request, pk: int):
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token {token.name} ({token.prefix}) revoked: it works no more.")
    return redirect("portal:my-tokens")
