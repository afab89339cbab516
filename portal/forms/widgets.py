"""Widgets the portal's forms share."""

from collections.abc import Iterable

from django import forms


class SuggestingTextInput(forms.TextInput):
    """A text input offering ``suggestions`` as you type (an HTML datalist); any text is
    still accepted."""

    template_name = "portal/forms/suggesting_input.html"

    def __init__(self, suggestions: Iterable[str], attrs: dict | None = None):
        super().__init__(attrs)
        self.suggestions = list(suggestions)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        widget["list_id"] = f"{widget['attrs'].get('id') or name}_suggestions"
        widget["attrs"]["list"] = widget["list_id"]
        widget["suggestions"] = self.suggestions
        return context


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date and time picker (``<input type="datetime-local">``), to the minute."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")
