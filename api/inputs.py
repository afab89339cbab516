"""What the API's input serializers share: no key they do not declare, and fields that take
exactly the JSON type the schema states (DRF's own take 5 for a string and "yes" for a
boolean), with lengths read from the model columns they fill, so the schema, the
validation and the database agree."""

from collections.abc import Mapping

from django.db import models
from rest_framework import serializers


class StrictInput(serializers.Serializer):
    """An input that refuses the keys it does not declare, each by name: a key dropped in
    silence ("did", "origin", "ha1", ...) would let the client believe it changed it."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key: [f"{key} cannot be changed here"] for key in unknown}
                )
        return super().to_internal_value(data)


def column_length(model: type[models.Model], field: str) -> int:
    """The max_length of a model's column: the most an input filling it may hold."""
    return model._meta.get_field(field).max_length


class _Text:
    default_error_messages = {
        "invalid": "Not a valid string.",
        "max_length": "Ensure this field has at most {max_length} characters.",
        "min_length": "Ensure this field has at least {min_length} characters.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CharField(_Text, serializers.CharField):
    pass


class EmailField(_Text, serializers.EmailField):
    default_error_messages = {"invalid": "Enter a valid email address."}


class BooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
