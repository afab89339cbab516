"""Fill an empty database with a small, realistic demo and an operator login."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.services import audit_channel
from domains.models import Domain, DomainState, Tenant
from domains.services import domain_attribute_set, domain_create
from subscribers.services import subscriber_create, user_alias_add, valid_from_add

OPERATOR = "operator"


class Command(BaseCommand):
    help = "Create demo domains, subscribers and an operator account; print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where it is served")

    def handle(self, *args, **options) -> None:
        password = secrets.token_urlsafe(9)
        with audit_channel("cli"), transaction.atomic():
            operator = self._operator(password)
            if not Domain.objects.exists():
                self._seed(operator)
        self.stdout.write(
            f"Log in at {options['url']}admin/ as {OPERATOR!r} with password {password!r}"
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
            name="example.com",
            aliases=["sip.example.com", "127.0.0.1"],
            attributes={"display_name": "Example Inc.", "max_contacts": "5"},
        )
        carol = subscriber_create(
            actor=operator,
            domain=example,
            username="carol",
            password=secrets.token_urlsafe(12),
            email="carol@example.com",
        )
        valid_from_add(actor=operator, subscriber=carol, from_user="+4930123456")
        user_alias_add(actor=operator, domain=example, username="4930123456", subscriber=carol)
        subscriber_create(
            actor=operator, domain=example, username="dave", password=secrets.token_urlsafe(12)
        )

        tenant_user, _ = get_user_model().objects.get_or_create(username="bob")
        tenant = Tenant.objects.create(name="Bob's Telephony", owner=tenant_user)
        shop = domain_create(
            actor=operator, name="voice.bob-shop.test", tenant=tenant, origin="tenant"
        )
        domain_attribute_set(actor=operator, domain=shop, name="peering_policy", value="closed")
        domain_create(
            actor=operator,
            name="claimed.bob-shop.test",
            tenant=tenant,
            origin="tenant",
            state=DomainState.PENDING,
        )
        domain_create(actor=operator, name="old.example.org", enabled=False)
