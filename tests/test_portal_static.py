"""The portal's own static files: the stylesheet parses as written (a block left open
swallows every rule after it, silently), and every script the pages load is served."""

import re
from pathlib import Path

from django.contrib.staticfiles import finders

STATIC = Path(__file__).resolve().parent.parent / "portal" / "static" / "portal"


def test_every_block_of_the_stylesheet_is_closed():
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "portal.css").read_text(), flags=re.S)
    depth = 0
    for number, line in enumerate(css.splitlines(), start=1):
        for character in line:
            depth += {"{": 1, "}": -1}.get(character, 0)
            assert depth in (0, 1), f"portal.css, line {number}: a block opens inside a block"
    assert depth == 0, "portal.css ends inside a block"


def test_the_scripts_the_pages_load_are_served(client, db):
    page = client.get("/accounts/login/").text
    scripts = re.findall(r'<script src="/static/([^"]+)" defer></script>', page)
    assert "portal/copy.js" in scripts
    for script in scripts:
        assert finders.find(script), script
