"""The house plan of the README's Architecture section, checked on every module's imports.

Imports go one way: the doors (pages, API endpoints, commands, tasks, admin, URLs) call
services, selectors and policies, which use models and the pure parts (name rules, DNS
resolution and wire format, the proxy transport, digests). Nothing below a door imports a
door; models import only models and pure parts; pure parts import no models and no ORM;
circles are tests/test_import_cycles.py's."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("serweb", "domains", "proxies", "subscribers", "audit", "api", "portal", "portability")

# Where a request, a command line or a queued task comes in.
DOORS = re.compile(
    r"^portal\."
    r"|\.(api|admin|urls|serializers|tasks|cli)$"
    r"|\.management\."
    r"|^serweb\.(urls|views|wsgi|commandbase)$"
    r"|^api\.(views|resources|schema|metadata|parsers|middleware|authentication"
    r"|permissions|throttling|pagination|inputs)$"
)
# Code that knows nothing of the database: it is fed and tested with plain values.
PURE = re.compile(
    r"^(subscribers\.digest|proxies\.(transport|sip_probe)|domains\.names|audit\.diff"
    r"|domains\.dns\.(resolution|wire|client|sip|policy|observation))$"
)
MODELS = re.compile(r"\.models$")


def project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


MODULES = project_modules()


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every import of a module, anywhere in it, with its line: project modules by their
    name, anything else by its top-level package (``django.db`` stays ``django.db``)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [f"{node.module}.{alias.name}" for alias in node.names]
            found = [name for name in candidates if name in MODULES]
            yield from ((name, node.lineno) for name in found or [node.module])
        elif isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)


IMPORTS = {name: list(imported(path)) for name, path in MODULES.items()}


def violations(rule) -> list[str]:
    return [
        f"{MODULES[module].relative_to(ROOT)}:{line}: {module} imports {target}"
        for module, targets in IMPORTS.items()
        for target, line in targets
        if rule(module, target)
    ]


def test_the_plan_still_names_real_modules():
    # A rule whose modules were all renamed away would pass on nothing.
    assert any(DOORS.search(name) for name in MODULES)
    assert {
        "subscribers.digest",
        "proxies.transport",
        "proxies.sip_probe",
        "domains.names",
        "domains.dns.resolution",
        "domains.dns.wire",
        "domains.dns.client",
    } <= {name for name in MODULES if PURE.search(name)}
    assert sum(bool(MODELS.search(name)) for name in MODULES) >= 5


def test_nothing_below_the_doors_imports_a_door():
    def rule(module, target):
        return not DOORS.search(module) and target in MODULES and bool(DOORS.search(target))

    assert violations(rule) == []


def test_models_import_only_models_and_pure_parts():
    def rule(module, target):
        return (
            bool(MODELS.search(module))
            and target in MODULES
            and not MODELS.search(target)
            and not PURE.search(target)
        )

    assert violations(rule) == []


@pytest.mark.parametrize("forbidden", ["django.db", "django.contrib", "models"])
def test_pure_parts_know_no_database(forbidden):
    def rule(module, target):
        if not PURE.search(module):
            return False
        if forbidden == "models":
            return bool(MODELS.search(target))
        return target == forbidden or target.startswith(forbidden + ".")

    assert violations(rule) == []
