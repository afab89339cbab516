"""Every write to domains, their names and attributes, and tenants.

Each function is atomic, validates before it writes, records an audit entry and sends
``domains_changed`` when the proxy's view of the data changes. Bad input raises
django.core.exceptions.ValidationError with a message meant for the person who typed it.

One module per concern; import from here, which is the services' public face:

- domain.py: a domain as a whole (create, enable and disable, state, tenant, update, delete)
- names.py: its names (aliases, IP literals, the canonical one)
- attributes.py: its attributes, and what a realm change does to stored passwords
- tenants.py: tenants and their owner accounts
- changes.py: what every write to a domain does besides its change (audit, signal)
- the row locks they take are in domains/locks.py, shared with subscribers/services.py
"""

from audit.services import Actor
from domains.locks import domain_lock, domains_lock
from domains.services.attributes import domain_attribute_set, domain_attribute_unset
from domains.services.changes import domain_served_names_changed
from domains.services.domain import (
    DeletionSummary,
    domain_create,
    domain_delete,
    domain_deletion_summary,
    domain_did_for,
    domain_disable,
    domain_enable,
    domain_hosts_clean,
    domain_set_state,
    domain_set_tenant,
    domain_update,
)
from domains.services.names import domain_make_canonical, domain_name_add, domain_name_remove
from domains.services.tenants import (
    tenant_create,
    tenant_set_active,
    tenant_set_password,
    tenant_update,
)

__all__ = [
    "domain_served_names_changed",
    "Actor",
    "DeletionSummary",
    "domain_attribute_set",
    "domain_attribute_unset",
    "domain_create",
    "domain_delete",
    "domain_deletion_summary",
    "domain_did_for",
    "domain_disable",
    "domain_enable",
    "domain_hosts_clean",
    "domain_lock",
    "domain_make_canonical",
    "domain_name_add",
    "domain_name_remove",
    "domain_set_state",
    "domain_set_tenant",
    "domain_update",
    "domains_lock",
    "tenant_create",
    "tenant_set_active",
    "tenant_set_password",
    "tenant_update",
]
