from django.forms.renderers import DjangoTemplates


class PortalFormRenderer(DjangoTemplates):
    """Django's form rendering, with the errors of no field as one alert on top and each
    field's errors right after its input, tied to it by aria-describedby
    (portal/templates/portal/forms/)."""

    form_template_name = "portal/forms/form.html"
    field_template_name = "portal/forms/field.html"
