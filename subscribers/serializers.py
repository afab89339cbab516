from rest_framework import serializers

from api.inputs import StrictInput
from subscribers.models import Subscriber, UserAlias, ValidFrom


class SubscriberOutput(serializers.ModelSerializer):
    """Never the HA1 hashes nor a kept password: they are password equivalents."""

    domain = serializers.CharField(source="domain.did")
    valid_from = serializers.SlugRelatedField(
        source="valid_froms", slug_field="from_user", many=True, read_only=True
    )
    needs_new_password = serializers.SerializerMethodField(
        help_text="The stored hashes were made for another realm than the domain's current one"
    )

    class Meta:
        model = Subscriber
        fields = [
            "username",
            "domain",
            "email",
            "enabled",
            "valid_from",
            "needs_new_password",
            "created_at",
            "updated_at",
        ]

    def get_needs_new_password(self, obj: Subscriber) -> bool:
        realm = self.context.get("realm")
        return realm is not None and obj.ha1_realm != realm


class SubscriberCreateInput(serializers.Serializer):
    username = serializers.CharField(max_length=64)
    password = serializers.CharField(write_only=True, max_length=64, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(required=False, default=True)


class SubscriberUpdateInput(StrictInput):
    password = serializers.CharField(
        write_only=True, max_length=64, required=False, trim_whitespace=False
    )
    email = serializers.EmailField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class ValidFromOutput(serializers.ModelSerializer):
    class Meta:
        model = ValidFrom
        fields = ["from_user", "created_at"]


class ValidFromInput(serializers.Serializer):
    from_user = serializers.CharField(max_length=64)


class UserAliasOutput(serializers.ModelSerializer):
    subscriber = serializers.SerializerMethodField()

    class Meta:
        model = UserAlias
        fields = ["username", "subscriber", "created_at"]

    def get_subscriber(self, obj: UserAlias) -> str:
        return f"{obj.subscriber.username}@{obj.subscriber.domain.did}"


class UserAliasInput(serializers.Serializer):
    username = serializers.CharField(max_length=64, help_text="The alias user name")
    subscriber = serializers.CharField(
        max_length=64, help_text="User name of the subscriber in the same domain"
    )
