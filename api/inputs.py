"""What the API's input serializers share."""

from collections.abc import Mapping

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
