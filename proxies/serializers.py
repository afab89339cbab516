"""What the API shows of proxies and their reload state, and what it accepts."""

from rest_framework import serializers

from api import inputs
from api.inputs import column_length
from proxies.generation import desired_generation
from proxies.models import Proxy, ProxyTransport


class ProxyOutput(serializers.ModelSerializer):
    desired_generation = serializers.SerializerMethodField()
    up_to_date = serializers.SerializerMethodField()

    class Meta:
        model = Proxy
        fields = [
            "name",
            "transport",
            "address",
            "sip_address",
            "enabled",
            "applied_generation",
            "desired_generation",
            "up_to_date",
            "last_reload_at",
            "last_error",
            "last_error_at",
        ]

    def _desired(self) -> int:
        if "desired" not in self.context:
            self.context["desired"] = desired_generation()
        return self.context["desired"]

    def get_desired_generation(self, obj: Proxy) -> int:
        return self._desired()

    def get_up_to_date(self, obj: Proxy) -> bool:
        return obj.applied_generation >= self._desired()


class ProxyCreateInput(serializers.Serializer):
    name = inputs.CharField(max_length=column_length(Proxy, "name"))
    transport = serializers.ChoiceField(choices=ProxyTransport.choices)
    address = inputs.CharField(max_length=column_length(Proxy, "address"))
    sip_address = inputs.CharField(
        max_length=column_length(Proxy, "sip_address"),
        required=False,
        default="",
        allow_blank=True,
        help_text="HOST:PORT where the proxy answers SIP, for the probes that confirm a reload",
    )


class ProxyStatusOutput(serializers.Serializer):
    name = serializers.CharField()
    transport = serializers.CharField()
    address = serializers.CharField()
    state = serializers.CharField(
        help_text="live, pending, reloading, failing, no room or disabled"
    )
    applied_generation = serializers.IntegerField()
    desired_generation = serializers.IntegerField()
    pending_dids = serializers.ListField(child=serializers.CharField())
    pending_count = serializers.IntegerField()
    reload_count = serializers.IntegerField(help_text="full reloads sent")
    update_count = serializers.IntegerField(
        help_text="incremental updates sent (htable index mode: the changed keys alone)"
    )
    failures = serializers.IntegerField()
    last_reload_at = serializers.DateTimeField(allow_null=True)
    last_reload_seconds = serializers.FloatField(allow_null=True)
    last_verified_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_error_at = serializers.DateTimeField(allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    shm_free = serializers.IntegerField(allow_null=True)
    shm_total = serializers.IntegerField(allow_null=True)
