"""What the API shows of domains and tenants, and what it accepts."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import inputs
from api.inputs import StrictInput, column_length
from domains.attributes import KNOWN_ATTRIBUTES
from domains.bulk import DomainItem
from domains.models import (
    AttributeType,
    Domain,
    DomainAttribute,
    DomainName,
    DomainState,
    NameCheck,
    NameState,
    Tenant,
)
from domains.names import HostName
from domains.policies import proxies_shown_to
from domains.selectors import (
    TenantNotFound,
    domain_effective_attributes,
    tenant_get_by_name,
)
from proxies.status import pending_proxies, proxies_loaded_at

User = get_user_model()
TYPE_NAMES = {AttributeType.INTEGER: "integer", AttributeType.STRING: "string"}


class NameCheckOutput(serializers.ModelSerializer):
    class Meta:
        model = NameCheck
        fields = ["checked_at", "verdict", "outcome", "reason"]


class NameOutput(serializers.ModelSerializer):
    display = serializers.SerializerMethodField(help_text="Unicode form of an IDN")
    state = serializers.SerializerMethodField(
        help_text="Where the name stands in DNS housekeeping (disabled and removed ones "
        "are not served); an IP literal is disabled while it is not one of the proxy "
        "addresses"
    )
    exempt = serializers.SerializerMethodField(
        help_text="Left alone by DNS housekeeping and served whatever DNS (or, for an IP "
        "literal, the proxy addresses) says; operators decide"
    )
    last_check = serializers.SerializerMethodField(
        help_text="What the latest check of the name saw (in DNS, or an IP literal against "
        "the proxy addresses); null before the first"
    )

    class Meta:
        model = DomainName
        fields = ["name", "display", "kind", "is_canonical", "state", "exempt", "last_check"]

    def get_display(self, obj: DomainName) -> str:
        return HostName(obj.name, obj.kind).display

    @extend_schema_field(serializers.ChoiceField(choices=NameState.choices, read_only=True))
    def get_state(self, obj: DomainName) -> str:
        return obj.dns_state

    def get_exempt(self, obj: DomainName) -> bool:
        check = getattr(obj, "dns_check", None)
        return bool(check and check.exempt)

    @extend_schema_field(NameCheckOutput(allow_null=True))
    def get_last_check(self, obj: DomainName) -> dict | None:
        check = getattr(obj, "dns_check", None)
        if check is None or check.checked_at is None:
            return None
        return NameCheckOutput(check).data


class AttributeOutput(serializers.ModelSerializer):
    type = serializers.SerializerMethodField()
    effective = serializers.SerializerMethodField(
        help_text="Whether this row is the one in force (the operator's wins over DNS)"
    )

    class Meta:
        model = DomainAttribute
        fields = ["name", "type", "value", "source", "is_default", "effective", "updated_at"]

    def get_type(self, obj: DomainAttribute) -> str:
        return TYPE_NAMES[obj.type]

    def get_effective(self, obj: DomainAttribute) -> bool:
        winners = self.context.get("winners", {}).get(obj.domain_id)
        return winners is None or winners.get(obj.name) == obj


class DomainOutput(serializers.ModelSerializer):
    canonical_name = serializers.SerializerMethodField()
    tenant = serializers.CharField(source="tenant.name", allow_null=True, default=None)
    names = NameOutput(many=True)
    attributes = serializers.SerializerMethodField()
    served = serializers.BooleanField(source="is_served")
    live = serializers.SerializerMethodField(
        help_text="Whether every enabled proxy has loaded this domain's latest change"
    )
    pending_proxies = serializers.SerializerMethodField(
        help_text="Operators only (null for tenants, who see `live`): the enabled proxies "
        "that have not loaded this domain's latest change yet"
    )

    class Meta:
        model = Domain
        fields = [
            "did",
            "canonical_name",
            "state",
            "enabled",
            "served",
            "origin",
            "tenant",
            "names",
            "attributes",
            "live",
            "pending_proxies",
            "created_at",
            "updated_at",
            "state_changed_at",
        ]

    def _pending(self, obj: Domain) -> list[str]:
        # The proxies are read once for a whole page of domains.
        if "proxies_loaded_at" not in self.context:
            self.context["proxies_loaded_at"] = proxies_loaded_at()
        return pending_proxies(obj, self.context["proxies_loaded_at"])

    def get_live(self, obj: Domain) -> bool:
        return not self._pending(obj)

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_pending_proxies(self, obj: Domain) -> list[str] | None:
        request = self.context.get("request")
        if request is None or not proxies_shown_to(request.user):
            return None
        return self._pending(obj)

    def get_canonical_name(self, obj: Domain) -> str:
        return obj.canonical_name

    def get_attributes(self, obj: Domain) -> list[dict]:
        context = {"winners": {obj.pk: domain_effective_attributes(obj)}}
        return AttributeOutput(obj.attributes.all(), many=True, context=context).data


NAME_LENGTH = column_length(DomainName, "name")
VALUE_LENGTH = column_length(DomainAttribute, "value")


class DomainCreateInput(serializers.Serializer):
    name = inputs.CharField(max_length=NAME_LENGTH, help_text="The canonical name")
    aliases = serializers.ListField(
        child=inputs.CharField(max_length=NAME_LENGTH), required=False, default=list
    )
    attributes = serializers.DictField(
        child=inputs.CharField(max_length=VALUE_LENGTH, allow_blank=True),
        required=False,
        default=dict,
    )
    did = inputs.CharField(max_length=column_length(Domain, "did"), required=False)
    enabled = inputs.BooleanField(required=False, default=True)
    tenant = inputs.CharField(
        max_length=column_length(Tenant, "name"),
        required=False,
        allow_null=True,
        help_text="Operators only: the name of the owning tenant",
    )

    def validate_tenant(self, name: str | None) -> Tenant | None:
        if name is None:
            return None
        try:
            return tenant_get_by_name(name)
        except TenantNotFound as exc:
            raise serializers.ValidationError(str(exc)) from None


class DomainUpdateInput(StrictInput):
    enabled = inputs.BooleanField(required=False, help_text="Operators only")
    state = serializers.ChoiceField(
        choices=DomainState.choices, required=False, help_text="Operators only"
    )
    tenant = inputs.CharField(
        max_length=column_length(Tenant, "name"),
        required=False,
        allow_null=True,
        help_text="Operators only: give the domain to this tenant (null: to none)",
    )


class NameInput(serializers.Serializer):
    name = inputs.CharField(max_length=NAME_LENGTH)


class NameUpdateInput(StrictInput):
    exempt = inputs.BooleanField(
        help_text="Operators only: serve the host name whatever DNS says (true), or put "
        "it back under DNS housekeeping (false)"
    )


class AttributeInput(StrictInput):
    value = inputs.CharField(max_length=VALUE_LENGTH, allow_blank=True)
    type = serializers.ChoiceField(
        choices=["integer", "string"],
        required=False,
        help_text="For attributes serweb does not know; known ones have a fixed type "
        f"({', '.join(sorted(KNOWN_ATTRIBUTES))})",
    )
    accept_password_reset = inputs.BooleanField(required=False, default=False)


class TenantOutput(serializers.ModelSerializer):
    """A tenant of domains.selectors.tenants_with_usage (its counts read with it)."""

    owner = serializers.CharField(source="owner.username")
    email = serializers.CharField(source="owner.email")
    active = serializers.BooleanField(source="owner.is_active", help_text="Its owner may sign in")
    confirmed = serializers.SerializerMethodField(
        help_text="Its owner has proved its e-mail address (tenants who signed up)"
    )
    domains = serializers.IntegerField(source="domain_count")
    claims = serializers.IntegerField(source="claim_count", help_text="Claims waiting for DNS")

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "owner",
            "email",
            "active",
            "confirmed",
            "domains",
            "claims",
            "domain_quota",
            "pending_claim_limit",
            "created_at",
        ]

    def get_confirmed(self, tenant: Tenant) -> bool:
        return tenant.confirmed_at is not None


class TenantUpdateInput(serializers.Serializer):
    name = inputs.CharField(max_length=column_length(Tenant, "name"), required=False)
    email = inputs.EmailField(
        max_length=column_length(User, "email"), required=False, allow_blank=True
    )
    domain_quota = serializers.IntegerField(
        required=False, min_value=0, max_value=1_000_000,
        help_text="Domains and claims waiting for DNS it may hold together",
    )  # fmt: skip
    pending_claim_limit = serializers.IntegerField(
        required=False, min_value=0, max_value=1_000_000,
        help_text="Claims it may have waiting for DNS at once",
    )  # fmt: skip


class InvitationOutput(serializers.Serializer):
    sent_to = serializers.EmailField(help_text="Where the link to choose a password went")


class TenantCreateInput(serializers.Serializer):
    name = inputs.CharField(max_length=column_length(Tenant, "name"))
    owner = inputs.CharField(
        max_length=column_length(User, "username"), help_text="Login name of the owner account"
    )
    email = inputs.EmailField(
        max_length=column_length(User, "email"), required=False, allow_blank=True, default=""
    )


class DomainBulkItem(serializers.Serializer):
    name = inputs.CharField(max_length=NAME_LENGTH)
    aliases = serializers.ListField(
        child=inputs.CharField(max_length=NAME_LENGTH), required=False, default=list
    )
    attributes = serializers.DictField(
        child=inputs.CharField(max_length=VALUE_LENGTH), required=False, default=dict
    )
    did = inputs.CharField(max_length=column_length(Domain, "did"), required=False)
    enabled = inputs.BooleanField(required=False, default=True)

    def as_item(self, item: dict) -> DomainItem:
        """The validated item as the bulk path takes it."""
        return DomainItem(
            name=item["name"],
            aliases=item["aliases"],
            did=item.get("did", ""),
            enabled=item["enabled"],
            attributes=item["attributes"],
        )


class DomainBulkSummary(serializers.Serializer):
    domains = serializers.IntegerField()
    names = serializers.IntegerField()
    attributes = serializers.IntegerField()
