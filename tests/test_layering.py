"""The layout of docs/architecture.md holds: imports run one way, features never reach the entry rooms
or the wiring, SQL stays in repo modules, storage and the delivery queue, and no import cycle exists."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "postroom"
ENTRY = ("postroom.api", "postroom.smtp", "postroom.web", "postroom.cli", "postroom.app", "postroom.services")
SQL_NAMES = {"select", "insert", "update", "delete", "text"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, TYPE_CHECKING and function-level imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


MODULES = {_module(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}
GRAPH = {name: {i for i in _imports(path) if i in MODULES and i != name} for name, path in MODULES.items()}


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_features_never_import_an_entry_room_or_the_wiring() -> None:
    offenders = {
        name: sorted(i for i in imported if _under(i, ENTRY))
        for name, imported in GRAPH.items()
        if _under(name, ("postroom.features",))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_storage_and_mail_import_no_feature_and_no_entry_room() -> None:
    above = ("postroom.features", "postroom.delivery", *ENTRY)
    offenders = {
        name: sorted(i for i in imported if _under(i, above))
        for name, imported in GRAPH.items()
        if _under(name, ("postroom.storage", "postroom.mail"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_sql_lives_in_repo_modules_storage_and_the_queues() -> None:
    def writes_sql(path: Path) -> bool:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            imported = {a.name for a in node.names} if isinstance(node, ast.ImportFrom) else set()
            if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy" and SQL_NAMES & imported:
                return True
            if isinstance(node, ast.Attribute) and node.attr == "execute":
                return True
        return False

    allowed = ("postroom.storage", "postroom.delivery.queue", "postroom.dispatch.outbox")
    offenders = [
        name
        for name, path in MODULES.items()
        if writes_sql(path) and not name.endswith(".repo") and not _under(name, allowed)
    ]
    assert offenders == []


def test_there_is_no_import_cycle() -> None:
    """Tarjan's strongly connected components over the module graph: each must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert cycles == []
