"""API resources for DNS work: verification jobs, tenant claims, a domain's DNS evidence,
and the proxy's lookup."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from api import inputs
from api.exceptions import django_validation_error
from api.inputs import column_length
from api.jobs import dns_check_start
from api.models import Job
from api.permissions import IsOperator
from api.schema import ErrorSerializer, keyed_schema
from api.selectors import jobs_visible_to
from api.views import ApiView
from domains.dns.claims import claim_record, domain_claim_start
from domains.dns.lookup import lookup_host
from domains.models import DomainCheck, DomainClaim
from domains.policies import claim_tenant
from domains.selectors import claims_visible_to


class JobOutput(serializers.ModelSerializer):
    error = ErrorSerializer(
        read_only=True,
        allow_null=True,
        help_text="Why the job failed, as an error answer says: bad input keyed by field",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "target",
            "state",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


def _answer_job(job: Job) -> Response:
    job.refresh_from_db()  # without a broker it has already run
    code = status.HTTP_202_ACCEPTED if job.state in (Job.State.QUEUED, Job.State.RUNNING) else 200
    return Response(
        JobOutput(job).data, status=code, headers={"Location": f"/api/v1/jobs/{job.pk}/"}
    )


class JobDetail(ApiView):
    serializer_class = JobOutput

    def get(self, request, pk: int):
        job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
        return Response(JobOutput(job).data)


class DomainVerify(ApiView):
    """Check the domain in DNS now (no cache) and apply what the answer calls for."""

    serializer_class = JobOutput

    @extend_schema(request=None, responses={200: JobOutput, 202: JobOutput})
    def post(self, request, did: str):
        domain = self.visible_domain(did)
        return _answer_job(self.call(dns_check_start, domain=domain))


class DomainCheckOutput(serializers.ModelSerializer):
    class Meta:
        model = DomainCheck
        fields = [
            "managed",
            "verdict",
            "outcome",
            "reason",
            "evidence",
            "checked_at",
            "expires_at",
            "last_positive_at",
            "negatives",
            "first_negative_at",
            "unknowns",
        ]


class DomainDns(ApiView):
    """What the latest DNS check saw and the lifecycle counters (404 before any check)."""

    serializer_class = DomainCheckOutput

    def get(self, request, did: str):
        domain = self.visible_domain(did)
        return Response(DomainCheckOutput(get_object_or_404(DomainCheck, domain=domain)).data)


class ClaimOutput(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.name")
    domain = serializers.CharField(source="domain.did", allow_null=True, default=None)
    record = serializers.SerializerMethodField(help_text="The TXT record to publish")

    class Meta:
        model = DomainClaim
        fields = [
            "id",
            "name",
            "tenant",
            "token",
            "record",
            "domain",
            "created_at",
            "expires_at",
            "checked_at",
            "verified_at",
            "result",
        ]

    def get_record(self, claim: DomainClaim) -> str:
        return claim_record(claim)


class ClaimInput(serializers.Serializer):
    name = inputs.CharField(max_length=column_length(DomainClaim, "name"))


class ClaimListCreate(mixins.ListModelMixin, ApiView):
    """A tenant's claims: publish the record, then verify to be served the domain."""

    serializer_class = ClaimOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return DomainClaim.objects.none()
        return claims_visible_to(self.request.user)

    def get(self, request):
        return self.list(request)

    @keyed_schema(request=ClaimInput, responses={201: ClaimOutput})
    def post(self, request):
        def start():
            tenant = claim_tenant(request.user)
            claim = self.call(
                domain_claim_start, tenant=tenant, name=self.input(ClaimInput)["name"]
            )
            return Response(ClaimOutput(claim).data, status=status.HTTP_201_CREATED)

        return self.idempotent(start)


class ClaimDetail(ApiView):
    serializer_class = ClaimOutput

    def get(self, request, pk: int):
        return Response(ClaimOutput(get_object_or_404(claims_visible_to(request.user), pk=pk)).data)


class ClaimVerify(ApiView):
    serializer_class = JobOutput

    @extend_schema(request=None, responses={200: JobOutput, 202: JobOutput})
    def post(self, request, pk: int):
        claim = get_object_or_404(claims_visible_to(request.user), pk=pk)
        return _answer_job(self.call(dns_check_start, claim=claim))


class LookupOutput(serializers.Serializer):
    host = serializers.CharField()
    ours = serializers.BooleanField()
    did = serializers.CharField(required=False)
    canonical = serializers.CharField(required=False)
    state = serializers.CharField(required=False)
    source = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    learned = serializers.BooleanField(required=False)
    retry_after = serializers.IntegerField(required=False)
    # Seconds a "not ours" answer may be remembered (the proxies' negative cache).
    ttl = serializers.IntegerField(required=False)


class Lookup(ApiView):
    """The proxy's question, for automation: is host H ours, under which did? The same
    answer (and the same DNS rate limits) as ``GET /proxy/lookup``; 503 when DNS gives
    no answer now."""

    permission_classes = [IsOperator]
    serializer_class = LookupOutput

    @extend_schema(
        parameters=[OpenApiParameter("host", str, required=True)],
        responses={200: LookupOutput, 503: LookupOutput},
    )
    def get(self, request):
        try:
            answer = lookup_host(request.query_params.get("host", ""))
        except DjangoValidationError as exc:
            # The name it could not read is the query's host.
            raise django_validation_error(exc, fields={NON_FIELD_ERRORS: "host"}) from None
        code = status.HTTP_503_SERVICE_UNAVAILABLE if answer.status == 503 else 200
        headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after else None
        return Response(answer.as_json(), status=code, headers=headers)
