"""REST resources for the proxies serweb reloads: operators only."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from api.permissions import IsOperator
from api.schema import keyed_schema
from api.views import ApiView
from proxies import serializers as io
from proxies import services
from proxies.models import Proxy
from proxies.reload import schedule_reload
from proxies.status import proxy_status_list


class ProxyListCreate(mixins.ListModelMixin, ApiView):
    permission_classes = [IsOperator]
    serializer_class = io.ProxyOutput

    def get_queryset(self):
        return Proxy.objects.order_by("id")

    def get(self, request):
        return self.list(request)

    @keyed_schema(request=io.ProxyCreateInput, responses={201: io.ProxyOutput})
    def post(self, request):
        def create():
            data = self.input(io.ProxyCreateInput)
            proxy = self.call(services.proxy_create, **data)
            return Response(io.ProxyOutput(proxy).data, status=status.HTTP_201_CREATED)

        return self.idempotent(create)


class ProxyDetail(ApiView):
    permission_classes = [IsOperator]
    serializer_class = io.ProxyOutput

    def get(self, request, name: str):
        return Response(io.ProxyOutput(get_object_or_404(Proxy, name=name)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, name: str):
        self.call(services.proxy_delete, proxy=get_object_or_404(Proxy, name=name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProxyStatusList(ApiView):
    """Per proxy: what is live and what still waits."""

    permission_classes = [IsOperator]
    serializer_class = io.ProxyStatusOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Proxy.objects.none()
    pagination_class = None

    @extend_schema(responses=io.ProxyStatusOutput(many=True))
    def get(self, request):
        return Response(io.ProxyStatusOutput(proxy_status_list(), many=True).data)


class Reload(ApiView):
    """Ask every proxy that is behind to reload now (coalesced with one already queued)."""

    permission_classes = [IsOperator]
    serializer_class = io.ProxyStatusOutput
    # Only for the schema's path parameters: the view reads through its services.
    queryset = Proxy.objects.none()
    pagination_class = None

    @extend_schema(request=None, responses={202: io.ProxyStatusOutput(many=True)})
    def post(self, request):
        schedule_reload()
        return Response(
            io.ProxyStatusOutput(proxy_status_list(), many=True).data,
            status=status.HTTP_202_ACCEPTED,
        )
