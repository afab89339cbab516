from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="The file holds",
        choices=[("domains", "Domains"), ("subscribers", "Subscribers")],
        initial="domains",
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 text, a header row naming the columns, then one row per domain or "
        "subscriber. Nothing is written before you confirm the preview.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        limit = settings.SERWEB_IMPORT_MAX_BYTES
        if file.size > limit:
            raise forms.ValidationError(
                f"the file has {filesizeformat(file.size)}; at most {filesizeformat(limit)} "
                "are taken: split it"
            )
        return file
