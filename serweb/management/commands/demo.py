"""Fill an empty database with a small demo of every kind of object, and print the logins."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.services import audit_acting, audit_channel
from domains.dns.claims import domain_claim_start
from domains.models import Domain, DomainOrigin, Tenant
from domains.services import domain_create, tenant_create, tenant_set_password
from proxies.models import ProxyTransport
from proxies.services import proxy_create
from subscribers.services import subscriber_create, user_alias_add, valid_from_add

OPERATOR = "operator"
TENANT_OWNER = "bob"
TENANT_NAME = "Bob's Telephony"


class Command(BaseCommand):
    help = "Create demo domains, subscribers, a tenant and a proxy; print how to log in."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where it is served")

    def handle(self, *args, **options) -> None:
        operator_password = secrets.token_urlsafe(12)
        tenant_password = secrets.token_urlsafe(12)
        with audit_channel("cli"), audit_acting(name="demo"), transaction.atomic():
            operator = self._operator(operator_password)
            if not Domain.objects.exists():
                self._seed(operator)
            tenant = Tenant.objects.get(owner__username=TENANT_OWNER)
            tenant_set_password(actor=operator, tenant=tenant, password=tenant_password)
        url = options["url"]
        self.stdout.write(
            f"serweb demo at {url}\n"
            f"  operator  login {OPERATOR!r} password {operator_password!r}: "
            f"{url} (the portal), {url}admin/ (the admin), {url}api/v1/docs/ (API)\n"
            f"  tenant    login {TENANT_OWNER!r} password {tenant_password!r} ({TENANT_NAME})\n"
            f"  API token: .venv/bin/serweb token create {OPERATOR} --name demo > token.txt"
        )

    def _operator(self, password: str):
        users = get_user_model()
        operator, _ = users.objects.get_or_create(
            username=OPERATOR, defaults={"is_staff": True, "is_superuser": True}
        )
        operator.set_password(password)
        operator.save()
        return operator

    def _seed(self, operator) -> None:
        example = domain_create(
            actor=operator,
            name="example.net",
            aliases=["sip.example.net", "127.0.0.1", "[::1]"],
            attributes={"display_name": "Example Networks", "max_contacts": "5"},
        )
        carol = subscriber_create(
            actor=operator,
            domain=example,
            username="carol",
            password=secrets.token_urlsafe(12),
            email="carol@example.net",
        )
        valid_from_add(actor=operator, subscriber=carol, from_user="+4930123456")
        user_alias_add(actor=operator, domain=example, username="4930123456", subscriber=carol)
        dave = subscriber_create(
            actor=operator, domain=example, username="dave", password=secrets.token_urlsafe(12)
        )
        valid_from_add(actor=operator, subscriber=dave, from_user="reception")

        tenant = tenant_create(
            actor=operator,
            name=TENANT_NAME,
            owner_username=TENANT_OWNER,
            email="bob@bob-telephony.example.org",
        )
        shop = domain_create(
            actor=operator,
            name="bob-telephony.example.org",
            aliases=["sip.bob-telephony.example.org"],
            attributes={"max_contacts": "2"},
            tenant=tenant,
            origin=DomainOrigin.TENANT,
        )
        subscriber_create(
            actor=operator, domain=shop, username="erin", password=secrets.token_urlsafe(12)
        )
        # Waits for the TXT record the tenant has not published yet.
        domain_claim_start(actor=tenant.owner, tenant=tenant, name="voice.bobs-shop.example.org")

        domain_create(actor=operator, name="old.example.org", enabled=False)
        proxy_create(
            actor=operator,
            name="local",
            transport=ProxyTransport.FIFO,
            address="/run/kamailio/kamailio_rpc.fifo",
            sip_address="127.0.0.1:5060",
        )
