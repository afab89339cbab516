from django.conf import settings
from rest_framework import serializers

from api import inputs
from api.inputs import StrictInput, column_length
from subscribers.models import Subscriber, UserAlias, ValidFrom
from subscribers.services import MAX_PASSWORD_LENGTH

USERNAME_LENGTH = column_length(Subscriber, "username")
EMAIL_LENGTH = column_length(Subscriber, "email")


class PasswordField(inputs.CharField):
    """Write-only, taken as typed, SERWEB_MIN_PASSWORD_LENGTH to MAX_PASSWORD_LENGTH
    characters (the setting is read whenever a serializer is made)."""

    def __init__(self, **kwargs):
        super().__init__(
            write_only=True,
            trim_whitespace=False,
            min_length=settings.SERWEB_MIN_PASSWORD_LENGTH,
            max_length=MAX_PASSWORD_LENGTH,
            **kwargs,
        )


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
    username = inputs.CharField(max_length=USERNAME_LENGTH)
    password = PasswordField()
    email = inputs.EmailField(max_length=EMAIL_LENGTH, required=False, allow_blank=True, default="")
    enabled = inputs.BooleanField(required=False, default=True)


class SubscriberUpdateInput(StrictInput):
    password = PasswordField(required=False)
    email = inputs.EmailField(max_length=EMAIL_LENGTH, required=False, allow_blank=True)
    enabled = inputs.BooleanField(required=False)


class ValidFromOutput(serializers.ModelSerializer):
    class Meta:
        model = ValidFrom
        fields = ["from_user", "created_at"]


class ValidFromInput(serializers.Serializer):
    from_user = inputs.CharField(max_length=column_length(ValidFrom, "from_user"))


class UserAliasOutput(serializers.ModelSerializer):
    subscriber = serializers.SerializerMethodField()

    class Meta:
        model = UserAlias
        fields = ["username", "subscriber", "created_at"]

    def get_subscriber(self, obj: UserAlias) -> str:
        return f"{obj.subscriber.username}@{obj.subscriber.domain.did}"


class UserAliasInput(serializers.Serializer):
    username = inputs.CharField(
        max_length=column_length(UserAlias, "username"), help_text="The alias user name"
    )
    subscriber = inputs.CharField(
        max_length=USERNAME_LENGTH, help_text="User name of the subscriber in the same domain"
    )
