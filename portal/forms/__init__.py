from django.http import HttpRequest, QueryDict


def posted(request: HttpRequest) -> QueryDict | None:
    """What a form is bound to: the POST data, even empty (a POST without fields is bad
    input, not a request for an empty form), or nothing on a GET."""
    return request.POST if request.method == "POST" else None
