"""What every API view shares, and the API's own resources (tokens, audit)."""

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import inputs
from api.exceptions import django_validation_error
from api.idempotency import idempotent
from api.inputs import column_length
from api.models import ApiToken
from api.pagination import NewestFirstPagination
from api.permissions import IsOperatorOrTenant
from api.schema import keyed_schema
from api.selectors import tokens_visible_to
from api.services import token_create, token_revoke
from audit.filters import AuditFilter
from audit.models import AuditEntry
from audit.selectors import audit_entries_visible_to
from audit.services import audit_channel, audit_group
from domains.models import Domain
from domains.selectors import domains_visible_to
from serweb.filters import FLAG_ERROR, parse_flag

NUL_MESSAGE = "Null characters are not allowed."


def _refuse_nul_characters(path_parameters: dict, query) -> None:
    """PostgreSQL text cannot hold a NUL character: the request is refused, naming the
    parameter, before a lookup sends one (the body's fields refuse them on their own)."""
    names = [name for name, value in path_parameters.items() if "\x00" in str(value)]
    names += [
        name for name, values in query.lists() if "\x00" in name or any("\x00" in v for v in values)
    ]
    if names:
        raise ValidationError({name.replace("\x00", "\\x00"): [NUL_MESSAGE] for name in names})


class ApiView(generics.GenericAPIView):
    """Writes made through the API are audited as such; services' ValidationErrors become
    400 answers naming the input fields they are about, and what they find deleted
    meanwhile a 404."""

    # (The docstring is every subclass's description in the schema, unless it has its own.)

    permission_classes = [IsOperatorOrTenant]
    # A service argument → the input field it comes from, where their names differ.
    input_names: ClassVar[dict[str, str]] = {}

    def dispatch(self, request, *args, **kwargs):
        # The request's group (audit.middleware): its entries are read together.
        with audit_channel("api", group=audit_group()):
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _refuse_nul_characters(kwargs, request.query_params)

    def flag(self, name: str) -> bool:
        """A boolean query parameter; absent is false."""
        raw = self.request.query_params.get(name)
        if raw is None:
            return False
        flag = parse_flag(raw)
        if flag is None:
            raise ValidationError({name: [FLAG_ERROR]})
        return flag

    def call(self, service: Callable[..., Any], /, **kwargs) -> Any:
        try:
            return service(actor=self.request.user, **kwargs)
        except DjangoValidationError as exc:
            raise django_validation_error(exc, fields=self.input_names) from None
        except ObjectDoesNotExist:
            # A concurrent request deleted what this one is about: the answer a request
            # made after that deletion gets.
            raise exceptions.NotFound() from None

    def idempotent(self, handler: Callable[[], Response], **options) -> Response:
        return idempotent(self.request, handler, **options)

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
    name = inputs.CharField(max_length=column_length(ApiToken, "name"))


class TokenCreatedOutput(TokenOutput):
    key = serializers.CharField(
        allow_null=True,
        help_text="Shown once, in the first answer; keep it: only its hash is stored. "
        "null in a replay of this creation (same Idempotency-Key).",
    )
    key_already_shown = serializers.BooleanField(
        read_only=True,
        default=False,
        help_text="true in a replay: the key was in the first answer and is not shown again; "
        "if it was lost, revoke this token and create another",
    )

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "key", "key_already_shown"]


def _token_replay(created: dict) -> dict:
    """What a retry of a token's creation answers: all but the key, which is shown once."""
    return {**created, "key": None, "key_already_shown": True}


class TokenListCreate(mixins.ListModelMixin, ApiView):
    serializer_class = TokenOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ApiToken.objects.none()
        return tokens_visible_to(self.request.user)

    def get(self, request):
        return self.list(request)

    @keyed_schema(
        request=TokenCreateInput,
        responses={201: TokenCreatedOutput},
        description="The key is in this answer only. A retry with the same Idempotency-Key "
        "replays it without the key (key null, key_already_shown true).",
    )
    def post(self, request):
        def create():
            data = self.input(TokenCreateInput)
            token, key = self.call(token_create, user=request.user, name=data["name"])
            token.key = key
            return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)

        return self.idempotent(create, stored=_token_replay)


class TokenDetail(ApiView):
    serializer_class = TokenOutput

    def get_token(self, pk: int) -> ApiToken:
        return get_object_or_404(tokens_visible_to(self.request.user), pk=pk)

    def get(self, request, pk: int):
        return Response(TokenOutput(self.get_token(pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        self.call(token_revoke, token=self.get_token(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit ---------------------------------------------------------------------------------


class AuditOutput(serializers.ModelSerializer):
    actor_name = serializers.CharField(
        source="shown_actor",
        help_text="The login; to a tenant only its own, else operator or system",
    )
    tenant = serializers.CharField(
        source="tenant.name",
        allow_null=True,
        default=None,
        help_text="The tenant that owned the object at the time",
    )

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
            "tenant",
            "before",
            "after",
        ]


class AuditList(mixins.ListModelMixin, ApiView):
    serializer_class = AuditOutput
    pagination_class = NewestFirstPagination
    filterset_class = AuditFilter

    def get_queryset(self):
        return audit_entries_visible_to(self.request.user)

    def get(self, request):
        return self.list(request)
