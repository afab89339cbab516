"""Wording shared by messages, pages and commands."""


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 domain``, ``2 domains``; ``plural_form`` where adding an s is wrong."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"
