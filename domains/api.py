"""REST resources for domains, their names and attributes, and tenants."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.filters import OrderingFilterSetBackend
from api.permissions import IsOperator
from api.schema import keyed_schema
from api.views import ApiView
from domains import policies, services
from domains import serializers as io
from domains.bulk import ImportRejected, import_domain_items
from domains.dns.name_controls import name_exempt_set, name_restore
from domains.filters import DomainFilter
from domains.models import AttributeSource, Domain, Tenant
from domains.selectors import domains_visible_to, names_with_checks, tenants_with_usage
from domains.signup import tenant_invite


def _domain_output(domain: Domain, request) -> dict:
    """One domain as the API shows it to the person asking, its names and attributes read
    once."""
    fresh = (
        Domain.objects.select_related("tenant")
        .prefetch_related(names_with_checks(), "attributes")
        .get(pk=domain.pk)
    )
    return io.DomainOutput(fresh, context={"request": request}).data


class DomainListCreate(mixins.ListModelMixin, ApiView):
    serializer_class = io.DomainOutput
    # Search and ordering too: the domain pages read the same parameters.
    filterset_class = DomainFilter
    filter_backends = [OrderingFilterSetBackend]

    def get_queryset(self):
        return (
            domains_visible_to(self.request.user)
            .select_related("tenant")
            .prefetch_related(names_with_checks(), "attributes")
        )

    def get(self, request):
        return self.list(request)

    @keyed_schema(request=io.DomainCreateInput, responses={201: io.DomainOutput})
    def post(self, request):
        return self.idempotent(self._create)

    def _create(self) -> Response:
        # Refused before the body is read: its tenant field must not tell a tenant which
        # other tenants exist.
        policies.domain_create_check(actor=self.request.user)
        data = self.input(io.DomainCreateInput)
        domain = self.call(
            services.domain_create,
            name=data["name"],
            aliases=data["aliases"],
            attributes=data["attributes"],
            did=data.get("did"),
            tenant=data.get("tenant"),
            enabled=data["enabled"],
        )
        return Response(_domain_output(domain, self.request), status=status.HTTP_201_CREATED)


class DomainBulkCreate(ApiView):
    """Create many domains in one transaction: all of them, or none and every problem."""

    permission_classes = [IsOperator]
    serializer_class = io.DomainBulkSummary

    @keyed_schema(request=io.DomainBulkItem(many=True), responses={201: io.DomainBulkSummary})
    def post(self, request):
        return self.idempotent(self._create)

    def _create(self) -> Response:
        items = io.DomainBulkItem(data=self.request.data, many=True)
        if not items.is_valid():
            raise ValidationError(_item_errors(items.errors))
        rows = [io.DomainBulkItem().as_item(item) for item in items.validated_data]
        try:
            summary = import_domain_items(actor=self.request.user, items=rows, source="api")
        except ImportRejected as rejected:
            errors: dict[str, list[str]] = {}
            for error in rejected.errors:  # rows are numbered from 1, items from 0
                errors.setdefault(str(error.line - 1), []).append(error.message)
            raise ValidationError(errors) from None
        return Response(io.DomainBulkSummary(summary).data, status=status.HTTP_201_CREATED)


def _item_errors(errors) -> dict[str, list[str]]:
    """A list serializer's errors keyed by item index, as "field: message" lines."""
    items = errors.items() if isinstance(errors, dict) else enumerate(errors)
    keyed: dict[str, list[str]] = {}
    for index, problem in items:
        if isinstance(problem, dict):
            lines = [f"{field}: {message}" for field, ms in problem.items() for message in ms]
        else:  # about the request as a whole, e.g. not a list
            lines = [str(m) for m in (problem if isinstance(problem, list) else [problem])]
        if lines:
            keyed[str(index)] = lines
    return keyed


class DomainDetail(ApiView):
    serializer_class = io.DomainOutput

    def get(self, request, did: str):
        return Response(_domain_output(self.visible_domain(did), request))

    @extend_schema(request=io.DomainUpdateInput, responses=io.DomainOutput)
    def patch(self, request, did: str):
        domain = self.visible_domain(did)
        changes = self.input(io.DomainUpdateInput)
        domain = self.call(services.domain_update, domain=domain, changes=changes)
        return Response(_domain_output(domain, request))

    @extend_schema(
        parameters=[OpenApiParameter("force", bool, description="also delete subscribers")],
        responses={204: None},
    )
    def delete(self, request, did: str):
        domain = self.visible_domain(did)
        self.call(services.domain_delete, domain=domain, force=self.flag("force"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainNameListCreate(ApiView):
    serializer_class = io.NameOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Domain.objects.none()
    pagination_class = None

    @extend_schema(responses=io.NameOutput(many=True))
    def get(self, request, did: str):
        names = self.visible_domain(did).names.select_related("dns_check")
        return Response(io.NameOutput(names, many=True).data)

    @keyed_schema(request=io.NameInput, responses={201: io.NameOutput})
    def post(self, request, did: str):
        def add():
            domain = self.visible_domain(did)
            policies.domain_name_add_check(actor=request.user)
            name = self.call(
                services.domain_name_add, domain=domain, name=self.input(io.NameInput)["name"]
            )
            return Response(io.NameOutput(name).data, status=status.HTTP_201_CREATED)

        return self.idempotent(add)


def _name_output(domain: Domain, name: str) -> dict:
    """One name of the domain as the API shows it, with its DNS check row."""
    host = domain.names.select_related("dns_check").get(pk=name)
    return io.NameOutput(host).data


class DomainNameDetail(ApiView):
    serializer_class = io.NameOutput

    @extend_schema(request=io.NameUpdateInput, responses=io.NameOutput)
    def patch(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        data = self.input(io.NameUpdateInput)
        check = self.call(name_exempt_set, domain=domain, name=name, exempt=data["exempt"])
        return Response(_name_output(domain, check.pk))

    @extend_schema(responses={204: None})
    def delete(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        self.call(services.domain_name_remove, domain=domain, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainNameRestore(ApiView):
    """Bring back a host name DNS housekeeping removed: disabled (not served) until DNS
    points it at us again, which the next check of the domain (``verify/``) sees."""

    serializer_class = io.NameOutput
    error_field = "name"

    @extend_schema(request=None, responses=io.NameOutput)
    def post(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        check = self.call(name_restore, domain=domain, name=name)
        return Response(_name_output(domain, check.pk))


class DomainNameCanonical(ApiView):
    serializer_class = io.NameOutput

    @extend_schema(request=None, responses=io.NameOutput)
    def post(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        canonical = self.call(services.domain_make_canonical, domain=domain, name=name)
        return Response(io.NameOutput(canonical).data)


class DomainAttributeList(ApiView):
    serializer_class = io.AttributeOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Domain.objects.none()
    pagination_class = None

    @extend_schema(responses=io.AttributeOutput(many=True))
    def get(self, request, did: str):
        domain = self.visible_domain(did)
        return Response(_domain_output(domain, request)["attributes"])


class DomainAttributeDetail(ApiView):
    serializer_class = io.AttributeOutput
    input_names = {"as_int": "type"}

    @extend_schema(request=io.AttributeInput, responses=io.AttributeOutput)
    def put(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        data = self.input(io.AttributeInput)
        as_int = None if "type" not in data else data["type"] == "integer"
        attribute = self.call(
            services.domain_attribute_set,
            domain=domain,
            name=name,
            value=data["value"],
            as_int=as_int,
            accept_password_reset=data["accept_password_reset"],
        )
        return Response(io.AttributeOutput(attribute).data)

    @extend_schema(
        parameters=[OpenApiParameter("accept_password_reset", bool)], responses={204: None}
    )
    def delete(self, request, did: str, name: str):
        domain = self.visible_domain(did)
        accept = self.flag("accept_password_reset")
        self.call(
            services.domain_attribute_unset,
            domain=domain,
            name=name,
            source=AttributeSource.OPERATOR,
            accept_password_reset=accept,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- tenants: operators only ----------------------------------------------------------


class TenantListCreate(mixins.ListModelMixin, ApiView):
    permission_classes = [IsOperator]
    serializer_class = io.TenantOutput
    input_names = {"owner_username": "owner"}

    def get_queryset(self):
        return tenants_with_usage().order_by("id")

    def get(self, request):
        return self.list(request)

    @keyed_schema(request=io.TenantCreateInput, responses={201: io.TenantOutput})
    def post(self, request):
        def create():
            data = self.input(io.TenantCreateInput)
            tenant = self.call(
                services.tenant_create,
                name=data["name"],
                owner_username=data["owner"],
                email=data["email"],
            )
            return Response(_tenant_output(tenant.pk), status=status.HTTP_201_CREATED)

        return self.idempotent(create)


def _tenant_output(pk: int) -> dict:
    return io.TenantOutput(tenants_with_usage().get(pk=pk)).data


def _tenant(pk: int) -> Tenant:
    return get_object_or_404(Tenant.objects.select_related("owner"), pk=pk)


class TenantDetail(ApiView):
    """One tenant: what it holds, and what it may (PATCH: any of name, the owner's e-mail,
    domain_quota, pending_claim_limit)."""

    permission_classes = [IsOperator]
    serializer_class = io.TenantOutput

    def get(self, request, pk: int):
        return Response(_tenant_output(_tenant(pk).pk))

    @extend_schema(request=io.TenantUpdateInput, responses=io.TenantOutput)
    def patch(self, request, pk: int):
        tenant = _tenant(pk)
        data = self.input(io.TenantUpdateInput)
        self.call(
            services.tenant_update,
            tenant=tenant,
            name=data.get("name", tenant.name),
            email=data.get("email", tenant.owner.email),
            domain_quota=data.get("domain_quota"),
            pending_claim_limit=data.get("pending_claim_limit"),
        )
        return Response(_tenant_output(tenant.pk))


class TenantInvite(ApiView):
    """Mail the tenant's owner a link to choose its password (under this API's address)."""

    permission_classes = [IsOperator]
    serializer_class = io.InvitationOutput

    @extend_schema(request=None, responses=io.InvitationOutput)
    def post(self, request, pk: int):
        sent_to = self.call(
            tenant_invite, tenant=_tenant(pk), base_url=request.build_absolute_uri("/")
        )
        return Response({"sent_to": sent_to})
