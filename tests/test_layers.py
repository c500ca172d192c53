"""Who may import whom (docs/hacking.md, "Layers"): read every module's imports with `ast` and
fail on an import that points up the layers, on a door imported by anything but the root, on a
platform library outside its door, and on any import cycle.

Every import counts: at the top, inside a function, and under `if TYPE_CHECKING:` (a type-only
arrow is still an arrow: the reader has to know the module above to read the one below).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The layers, bottom to top. A module may import its own layer and the layers below it, never
# one above. The first pattern that matches a module's dotted name decides its layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("storage", ("storage", "storage.*")),
    ("ports", ("ports", "ports.*")),
    ("classifier", ("classifier", "classifier.*")),  # the post classifier, with its data and model
    ("handlers", ("handlers", "handlers.*")),
    (
        "edges",  # time, the admin and the doors: each built on handlers, none on another's inside
        (
            "scheduler",
            "scheduler.*",
            "admin",
            "admin.*",
            "bot.telegram",
            "bot.wechat",
            "bot.wechat_*",
            "bot.wechaty_pb",
            "bot.wechaty_pb.*",
            "bot.local",
            "bot.asr",  # speech to text over HTTP, handed to the doors by the root
        ),
    ),
    ("ops", ("ops", "ops.*")),
    ("root", ("bot", "bot.app", "bot.serve", "bot.cli")),
]
PACKAGES = ("storage", "ports", "classifier", "handlers", "scheduler", "admin", "bot", "ops")
# Top-level folders with Python that are not the program: they may import anything.
OUTSIDE = {"tests", "bench", "deploy", "docs", "data"}
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}

# Doors: each platform's door is one unit. Beside the door's own modules, only the layers above
# the doors (ops, the root) import a door: the scheduler, the admin and the other doors do not.
DOORS: dict[str, tuple[str, ...]] = {
    "telegram": ("bot.telegram",),
    "wechat": ("bot.wechat", "bot.wechat_*", "bot.wechaty_pb", "bot.wechaty_pb.*"),
    "local": ("bot.local",),
}
# Platform libraries: only the door of that platform speaks them (and the layers above the doors,
# which may use a door anyway); handlers, storage and the rest never do.
PLATFORM_LIBRARIES: dict[str, str] = {"telegram": "telegram", "grpc": "wechat"}


@dataclass(frozen=True)
class Arrow:
    importer: str
    imported: str
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        base = ROOT / package
        if not base.is_dir():
            continue  # a package not there (yet)
        for path in sorted(base.rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(importer: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every name this module imports (project modules resolved to the module, not the
    attribute), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, path, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def _arrows() -> list[Arrow]:
    return [
        Arrow(importer, target, line)
        for importer, path in MODULES.items()
        for target, line in _targets(importer, path)
        if target != importer
    ]


ARROWS = _arrows()


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, p) for p in patterns)


def layer_of(module: str) -> str:
    for name, patterns in LAYERS:
        if _matches(module, patterns):
            return name
    raise AssertionError(f"{module}: in no layer; add it to LAYERS in tests/test_layers.py")


def door_of(module: str) -> str | None:
    return next((door for door, patterns in DOORS.items() if _matches(module, patterns)), None)


def _internal(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _why_forbidden(arrow: Arrow) -> str | None:
    a, b = arrow.importer, arrow.imported
    top = b.split(".")[0]
    above_doors = RANK[layer_of(a)] > RANK["edges"]
    if not _internal(b):
        owner = PLATFORM_LIBRARIES.get(top)
        if owner is not None and door_of(a) != owner and not above_doors:
            return f"the {top} library is spoken only by the {owner} door"
        return None
    if RANK[layer_of(b)] > RANK[layer_of(a)]:
        return f"{layer_of(a)} may not import {layer_of(b)} (a layer above)"
    door = door_of(b)
    if door is not None and door_of(a) != door and not above_doors:
        return f"only ops and the root import the {door} door"
    return None


def test_type_only_late_and_relative_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from bot.app import App\n"
        "def late():\n"
        "    import ops.metrics\n"
        "from . import texts\n"
        "from .parsing import parse_command\n",
        encoding="utf-8",
    )
    found = {target for target, _ in _targets("handlers.probe", source)}
    assert {"bot.app", "ops.metrics", "handlers.texts", "handlers.parsing"} <= found
    assert _why_forbidden(Arrow("handlers.probe", "bot.app", 3)) is not None
    assert _why_forbidden(Arrow("handlers.probe", "telegram", 1)) is not None
    assert _why_forbidden(Arrow("scheduler.jobs", "bot.telegram", 1)) is not None
    assert _why_forbidden(Arrow("bot.app", "bot.telegram", 1)) is None


def test_every_package_is_in_the_table() -> None:
    """A new top-level package gets a layer here before its imports escape the test."""
    folders = {
        p.parent.relative_to(ROOT).parts[0]
        for p in ROOT.glob("*/*.py")
        if not p.parent.name.startswith(".")
    }
    assert folders - OUTSIDE <= set(PACKAGES), "add to LAYERS and PACKAGES (or to OUTSIDE)"


def test_every_module_is_in_a_layer() -> None:
    assert MODULES, "no modules found"
    for module in MODULES:
        layer_of(module)


def test_no_import_points_up_the_layers() -> None:
    wrong = [
        f"{MODULES[a.importer].relative_to(ROOT)}:{a.line}: {a.importer} → {a.imported}: {why}"
        for a in ARROWS
        if (why := _why_forbidden(a)) is not None
    ]
    assert not wrong, "forbidden imports:\n" + "\n".join(sorted(set(wrong)))


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a in ARROWS:
        if a.imported in MODULES:
            graph[a.importer].add(a.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_across_packages() -> None:
    across = [c for c in _cycles() if len({m.split(".")[0] for m in c}) > 1]
    assert not across, "import cycles across packages:\n" + "\n".join(
        " <-> ".join(c) for c in across
    )


def test_no_import_cycle_at_all() -> None:
    """Inside a package too (intake ↔ register ↔ triage and chart ↔ digest were the last)."""
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


# --- every statement lives in storage/ -------------------------------------------------------

# The session's and the connection's own ways to run a statement: outside storage/ a decision
# asks a named storage function (or storage.records for a row it holds) instead.
STATEMENT_CALLS = {
    "get", "add", "add_all", "delete", "merge", "exec", "execute", "exec_driver_sql",
    "query", "scalar", "scalars", "refresh", "bulk_save_objects",
}  # fmt: skip
DATABASE_HANDLES = {"session", "conn", "connection", "db"}
# Statement builders: only storage/ composes SQL.
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "union_all", "bindparam"}


def _handle_name(node: ast.expr) -> str | None:
    """`session` in session.get(…), ctx.session.get(…), self.session.get(…); None for
    request.session (the web session's cookie dict), which is no database."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "request":
            return None
        return node.attr
    return None


def statements_outside_storage(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            handle = _handle_name(node.func.value)
            if node.func.attr in STATEMENT_CALLS and handle in DATABASE_HANDLES:
                found.append(f"{handle}.{node.func.attr}() at line {node.lineno}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "sqlalchemy",
            "sqlmodel",
        ):
            built = sorted(a.name for a in node.names if a.name in STATEMENT_BUILDERS)
            if built:
                found.append(f"imports {', '.join(built)} from {node.module} at line {node.lineno}")
    return found


def test_the_check_sees_a_statement(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlmodel import select\n"
        "def f(ctx, request):\n"
        "    ctx.session.get(Issue, 1)\n"
        "    request.session.get('csrf')\n"
    )
    assert statements_outside_storage(sample) == [
        "imports select from sqlmodel at line 1",
        "session.get() at line 3",
    ]


def test_every_statement_lives_in_storage() -> None:
    found = {
        name: hits
        for name, path in MODULES.items()
        if layer_of(name) != "storage" and (hits := statements_outside_storage(path))
    }
    assert not found, "statements outside storage/:\n" + "\n".join(
        f"{name}: {'; '.join(hits)}" for name, hits in sorted(found.items())
    )
