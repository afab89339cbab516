"""OpenAPI generation: every operation documents the API's error answers too, so a client
(and the schema fuzzing in the test suite) knows their shape."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from api.idempotency import HEADER as IDEMPOTENCY_HEADER


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


ERROR_CODES = ("400", "401", "403", "404", "429")


IDEMPOTENCY_KEY = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 characters of the client's choice: a retry with the same key "
    "within 24 hours gets the first successful answer (header Idempotent-Replayed: true) "
    "instead of a second write; the key with another request answers 422, and a retry "
    "while the first request still runs waits for it, then 409.",
)


def keyed_schema(**options):
    """``extend_schema`` for a POST that takes an Idempotency-Key (ApiView.idempotent)."""
    return extend_schema(parameters=[IDEMPOTENCY_KEY, *options.pop("parameters", [])], **options)


class SerwebAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ERROR_CODES
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ("413", "415")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ("409",)  # a concurrent change came first
        if self.method == "POST":
            codes += ("422",)
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code))
        return responses


class FilterSetParameters(DjangoFilterExtension):
    """A FilterSet's search and ordering parameters documented as DRF's SearchFilter and
    OrderingFilter document theirs (serweb/filters.py), the other filters as django-filter's."""

    target_class = "api.filters.FilterBackend"
    match_subclasses = True
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        documented = getattr(filter_field, "openapi_parameter", None)
        if documented is not None:
            return [dict(documented)]
        return super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
