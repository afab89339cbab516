"""REST resources for a domain's subscribers, their valid From identities and aliases."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import filters, mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.filters import FilterBackend
from api.schema import keyed_schema
from api.views import ApiView
from domains.models import Domain
from domains.selectors import domain_realm
from subscribers import serializers as io
from subscribers import services
from subscribers.filters import SubscriberFilter
from subscribers.models import Subscriber


class SubscriberListCreate(mixins.ListModelMixin, ApiView):
    serializer_class = io.SubscriberOutput
    filter_backends = [
        FilterBackend,
        filters.SearchFilter,
        filters.OrderingFilter,
    ]
    filterset_class = SubscriberFilter
    search_fields = ["username", "email"]
    ordering_fields = ["id", "username", "created_at"]
    ordering = ["id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Subscriber.objects.none()
        domain = self.visible_domain(self.kwargs["did"])
        return domain.subscribers.select_related("domain").prefetch_related("valid_froms")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "realm": self.domain_realm()}

    def domain_realm(self) -> str:
        return domain_realm(self.visible_domain(self.kwargs["did"]))

    def get(self, request, did: str):
        return self.list(request)

    @keyed_schema(request=io.SubscriberCreateInput, responses={201: io.SubscriberOutput})
    def post(self, request, did: str):
        def create():
            domain = self.visible_domain(did)
            subscriber = self.call(
                services.subscriber_create, domain=domain, **self.input(io.SubscriberCreateInput)
            )
            return Response(io.SubscriberOutput(subscriber).data, status=status.HTTP_201_CREATED)

        return self.idempotent(create)


class SubscriberView(ApiView):
    """A view about one subscriber of a visible domain."""

    serializer_class = io.SubscriberOutput

    def subscriber(self) -> Subscriber:
        domain = self.visible_domain(self.kwargs["did"])
        return get_object_or_404(
            domain.subscribers.select_related("domain"), username=self.kwargs["username"]
        )


class SubscriberDetail(SubscriberView):
    def get(self, request, did: str, username: str):
        subscriber = self.subscriber()
        context = {"realm": domain_realm(subscriber.domain)}
        return Response(io.SubscriberOutput(subscriber, context=context).data)

    @extend_schema(request=io.SubscriberUpdateInput, responses=io.SubscriberOutput)
    def patch(self, request, did: str, username: str):
        subscriber = self.subscriber()
        data = self.input(io.SubscriberUpdateInput)
        if "password" in data:
            subscriber = self.call(
                services.subscriber_set_password,
                subscriber=subscriber,
                password=data["password"],
            )
        if "email" in data or "enabled" in data:
            subscriber = self.call(
                services.subscriber_update,
                subscriber=subscriber,
                email=data.get("email"),
                enabled=data.get("enabled"),
            )
        return Response(io.SubscriberOutput(subscriber).data)

    @extend_schema(responses={204: None})
    def delete(self, request, did: str, username: str):
        self.call(services.subscriber_delete, subscriber=self.subscriber())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ValidFromListCreate(SubscriberView):
    serializer_class = io.ValidFromOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Subscriber.objects.none()
    pagination_class = None

    @extend_schema(responses=io.ValidFromOutput(many=True))
    def get(self, request, did: str, username: str):
        return Response(io.ValidFromOutput(self.subscriber().valid_froms.all(), many=True).data)

    @keyed_schema(request=io.ValidFromInput, responses={201: io.ValidFromOutput})
    def post(self, request, did: str, username: str):
        def add():
            entry = self.call(
                services.valid_from_add,
                subscriber=self.subscriber(),
                from_user=self.input(io.ValidFromInput)["from_user"],
            )
            return Response(io.ValidFromOutput(entry).data, status=status.HTTP_201_CREATED)

        return self.idempotent(add)


class ValidFromDetail(SubscriberView):
    serializer_class = io.ValidFromOutput

    @extend_schema(responses={204: None})
    def delete(self, request, did: str, username: str, from_user: str):
        self.call(services.valid_from_remove, subscriber=self.subscriber(), from_user=from_user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserAliasListCreate(ApiView):
    serializer_class = io.UserAliasOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Domain.objects.none()
    pagination_class = None

    @extend_schema(responses=io.UserAliasOutput(many=True))
    def get(self, request, did: str):
        domain = self.visible_domain(did)
        aliases = domain.user_aliases.select_related("subscriber__domain")
        return Response(io.UserAliasOutput(aliases, many=True).data)

    @keyed_schema(request=io.UserAliasInput, responses={201: io.UserAliasOutput})
    def post(self, request, did: str):
        def add():
            domain = self.visible_domain(did)
            data = self.input(io.UserAliasInput)
            subscriber = domain.subscribers.filter(username=data["subscriber"]).first()
            if subscriber is None:
                raise ValidationError(
                    {"subscriber": [f"{data['subscriber']}@{domain.did} is not a subscriber"]}
                )
            alias = self.call(
                services.user_alias_add,
                domain=domain,
                username=data["username"],
                subscriber=subscriber,
            )
            return Response(io.UserAliasOutput(alias).data, status=status.HTTP_201_CREATED)

        return self.idempotent(add)


class UserAliasDetail(ApiView):
    serializer_class = io.UserAliasOutput

    @extend_schema(responses={204: None})
    def delete(self, request, did: str, username: str):
        domain = self.visible_domain(did)
        alias = get_object_or_404(domain.user_aliases, username=username)
        self.call(services.user_alias_remove, alias=alias)
        return Response(status=status.HTTP_204_NO_CONTENT)
