"""The bulk action on the domain list: what to do, to which domains, and its confirmation."""

from django import forms

from domains.bulk_actions import BULK_LIMIT
from domains.names import MAX_NAME_LENGTH

BULK_ACTIONS = [("enable", "Enable"), ("disable", "Disable"), ("delete", "Delete")]
SCOPES = [("selected", "the selected domains"), ("every", "every domain the filter finds")]


class DidsField(forms.Field):
    """The dids of the rows ticked in the list (one ``did`` parameter each)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        values = [v for v in (value or []) if isinstance(v, str) and v]
        if len(values) > BULK_LIMIT:
            raise forms.ValidationError(f"at most {BULK_LIMIT} domains at once")
        if any(len(v) > MAX_NAME_LENGTH for v in values):
            raise forms.ValidationError("not a domain id")
        return values


class BulkForm(forms.Form):
    action = forms.ChoiceField(label="Action", choices=[("", "choose…"), *BULK_ACTIONS])
    scope = forms.ChoiceField(
        label="Apply to", choices=SCOPES, initial="selected", widget=forms.RadioSelect
    )
    did = DidsField(required=False)
    # The list's filter, as its query string: checked again when the action is confirmed.
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    # The confirmation: what it was shown (bulk_targets' fingerprint), and consent for
    # the subscribers a deletion takes along.
    confirmed = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    force = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == "selected" and not cleaned.get("did"):
            self.add_error("scope", "Tick the domains to change first, or apply it to every one.")
        return cleaned

    @property
    def every(self) -> bool:
        return getattr(self, "cleaned_data", {}).get("scope") == "every"
