from django.urls import reverse
from rest_framework.metadata import SimpleMetadata


class ResourceMetadata(SimpleMetadata):
    """OPTIONS answers what a resource is and where its schema is, and the methods it
    allows (the Allow header). DRF's default would also describe each method's input from
    the view's serializer, which here is the output, after looking up the object, which a
    nested resource cannot do without its parents; the OpenAPI schema states the input."""

    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": reverse("api-schema"),
        }
