from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The deepest nesting a request body may have; the API's own bodies need three levels.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than MAX_DEPTH as malformed: a
    deeply nested body exhausts the decoder's recursion, or that of any code that walks
    the data later."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
            too_deep = True
        else:
            too_deep = _deeper_than(data, MAX_DEPTH)
        if too_deep:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return data


def _deeper_than(data, limit: int) -> bool:
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth == limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
