"""The audit log's filter form: labels, lengths and widgets for people; which entries each
filter selects is audit.filters.AuditLogFilter's."""

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator

from audit.filters import AuditLogFilter
from audit.models import KNOWN_OBJECT_TYPES, AuditEntry
from portal.forms.widgets import DateTimeLocalInput, SuggestingTextInput

LABELS = {
    "actor_name": "Who",
    "channel": "Through",
    "object_type": "Object type",
    "object": "Object",
    "did": "Domain (did)",
    "action": "Action",
    "since": "From",
    "until": "To",
    "group": "Run",
}
HELP = {
    "object": "its name as listed: a did, user@did, a tenant or a proxy",
    "did": "everything about the domain that held this did",
    "action": "e.g. domain.create",
    "group": "a request's id (its answer's X-Request-Id), or a command's, job's or task's",
}
_LENGTHS = {
    "actor_name": AuditEntry._meta.get_field("actor_name").max_length,
    "object": AuditEntry._meta.get_field("object_repr").max_length,
    # A did, or a Unicode name whose A-labels are a did.
    "did": 253,
    "action": AuditEntry._meta.get_field("action").max_length,
    "object_type": AuditEntry._meta.get_field("object_type").max_length,
}


class AuditFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].widget = SuggestingTextInput(KNOWN_OBJECT_TYPES)
        zone = f"time zone {settings.TIME_ZONE}"
        helps = {**HELP, "since": zone, "until": zone}
        for name in ("since", "until"):
            self.fields[name].widget = DateTimeLocalInput()
        for name, field in self.fields.items():
            field.label = LABELS.get(name, field.label)
            field.help_text = helps.get(name, "")
            if name in _LENGTHS:
                field.max_length = _LENGTHS[name]
                field.validators.append(MaxLengthValidator(field.max_length))
                field.widget.attrs["maxlength"] = field.max_length


class AuditLogFilters(AuditLogFilter):
    class Meta(AuditLogFilter.Meta):
        form = AuditFilterForm
