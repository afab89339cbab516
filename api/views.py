"""What every API view shares, and the API's own resources (tokens, audit)."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, mixins, serializers, status
from rest_framework.response import Response

from api.exceptions import django_validation_error
from api.idempotency import idempotent
from api.models import ApiToken
from api.pagination import NewestFirstPagination
from api.permissions import IsOperatorOrTenant
from api.services import token_create, token_revoke
from audit.models import AuditEntry
from audit.services import audit_channel
from domains.models import Domain
from domains.selectors import actor_is_operator, domains_visible_to


class ApiView(generics.GenericAPIView):
    """Writes made through the API are audited as such; services' ValidationErrors become
    400 answers with the message on ``error_field`` unless the service named a field, and
    what they find deleted meanwhile a 404."""

    permission_classes = [IsOperatorOrTenant]
    error_field: str | None = None

    def dispatch(self, request, *args, **kwargs):
        with audit_channel("api"):
            return super().dispatch(request, *args, **kwargs)

    def call(self, service: Callable[..., Any], *, field: str | None = None, **kwargs) -> Any:
        try:
            return service(actor=self.request.user, **kwargs)
        except DjangoValidationError as exc:
            raise django_validation_error(exc, field=field or self.error_field) from None
        except ObjectDoesNotExist:
            # A concurrent request deleted what this one is about: the answer a request
            # made after that deletion gets.
            raise exceptions.NotFound() from None

    def idempotent(self, handler: Callable[[], Response]) -> Response:
        return idempotent(self.request, handler)

    def visible_domain(self, did: str) -> Domain:
        return get_object_or_404(domains_visible_to(self.request.user), did=did)

    def input(self, serializer_class: type[serializers.Serializer], **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# --- tokens --------------------------------------------------------------------------------


class TokenOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]


class TokenCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TokenCreatedOutput(TokenOutput):
    key = serializers.CharField(help_text="Shown once; keep it: only its hash is stored.")

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "key"]


def _tokens_of(user):
    tokens = ApiToken.objects.select_related("user")
    return tokens if actor_is_operator(user) else tokens.filter(user=user)


class TokenListCreate(mixins.ListModelMixin, ApiView):
    serializer_class = TokenOutput
    error_field = "name"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ApiToken.objects.none()
        return _tokens_of(self.request.user)

    def get(self, request):
        return self.list(request)

    @extend_schema(request=TokenCreateInput, responses={201: TokenCreatedOutput})
    def post(self, request):
        def create():
            data = self.input(TokenCreateInput)
            token, key = self.call(token_create, user=request.user, name=data["name"])
            token.key = key
            return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)

        return self.idempotent(create)


class TokenDetail(ApiView):
    serializer_class = TokenOutput

    def get_token(self, pk: int) -> ApiToken:
        return get_object_or_404(_tokens_of(self.request.user), pk=pk)

    def get(self, request, pk: int):
        return Response(TokenOutput(self.get_token(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        self.call(token_revoke, token=self.get_token(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit ---------------------------------------------------------------------------------


class AuditOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor_name",
            "channel",
            "action",
            "object_type",
            "object_repr",
            "did",
            "before",
            "after",
        ]


class AuditList(mixins.ListModelMixin, ApiView):
    serializer_class = AuditOutput
    pagination_class = NewestFirstPagination
    filterset_fields = ["action", "object_type", "did", "channel", "actor_name"]

    def get_queryset(self):
        entries = AuditEntry.objects.all()
        if actor_is_operator(self.request.user):
            return entries
        dids = domains_visible_to(self.request.user).values_list("did", flat=True)
        return entries.filter(did__in=dids)

    def get(self, request):
        return self.list(request)
