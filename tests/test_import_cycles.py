"""No two of serweb's modules import each other, directly or round a longer circle: not at
the top of a module, nor inside a function (where a circle is only hidden)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIPPED = {".venv", "tests", "bench", "migrations", "__pycache__"}


def _modules() -> dict[str, Path]:
    apps = {init.parent.name for init in REPO.glob("*/__init__.py")} - SKIPPED
    found = {}
    for path in REPO.glob("*/**/*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[0] not in apps or SKIPPED & set(parts):
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports; importing a submodule runs its packages too."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for name in named:
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found & modules.keys()


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_round_a_circle():
    modules = _modules()
    graph = {
        name: {
            other
            for other in _imports(path, modules)
            # A module inside a package may use its package (it is running already).
            if other != name and not name.startswith(other + ".")
        }
        for name, path in modules.items()
    }
    assert "domains.services" in graph and "subscribers.services" in graph
    assert _circles(graph) == []


def test_a_circle_is_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
