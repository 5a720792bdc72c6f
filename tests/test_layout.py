"""The apps depend on each other in one direction (README.md, "Layout"): each module imports only
from its own app and from the apps below it, never from one above."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The modules of gal_dashboard that put the apps together (URLs, the ASGI application, health,
# the token endpoints, the login throttle, the server runner): they import the apps by design.
WIRING = {
    "gal_dashboard/urls.py",
    "gal_dashboard/api_urls.py",
    "gal_dashboard/asgi.py",
    "gal_dashboard/health.py",
    "gal_dashboard/auth_api.py",
    "gal_dashboard/login_throttle.py",
    "gal_dashboard/serve.py",
}
# The demo builds graphics with standings to draw; a command, imported by nothing.
DEMO = {"graphics/management/commands/seed_demo.py"}
GRAPHICS_CORE = {
    f"graphics/{name}.py"
    for name in ("models", "canvas", "selectors", "serialization", "patch", "backgrounds")
}

# (which modules, the imports they must not make)
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("gal_dashboard/", ("graphics", "locks", "standings", "realtime", "dashboard")),
    ("graphics-core", ("locks", "standings", "realtime", "dashboard")),
    (
        "locks/",
        (
            "graphics.api",
            "graphics.api_serializers",
            "graphics.services",
            "graphics.admin",
            "standings",
            "realtime",
            "dashboard",
        ),
    ),
    ("graphics/", ("standings", "realtime", "dashboard")),
    ("standings/", ("realtime", "dashboard")),
    ("realtime/", ("dashboard",)),
]


def modules(selector: str) -> list[Path]:
    if selector == "graphics-core":
        return [ROOT / name for name in sorted(GRAPHICS_CORE)]
    found = []
    for path in sorted((ROOT / selector).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if "/migrations/" in name or name in WIRING or name in DEMO:
            continue
        found.append(path)
    return found


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(("selector", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_no_module_imports_from_an_app_above_it(selector: str, forbidden: tuple[str, ...]) -> None:
    """None of these modules imports from the apps above them."""
    wrong = {
        path.relative_to(ROOT).as_posix(): sorted(
            name
            for name in imported(path)
            if any(name == prefix or name.startswith(f"{prefix}.") for prefix in forbidden)
        )
        for path in modules(selector)
    }
    assert modules(selector)
    assert {module: names for module, names in wrong.items() if names} == {}


# The consumer is an adapter (realtime.connection.consumers); no room of the realtime wing grows
# past this.
REALTIME_MODULE_MAX_LINES = 450


def test_no_realtime_module_is_over_the_line_limit() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): length
        for path in sorted((ROOT / "realtime").rglob("*.py"))
        if "/migrations/" not in path.as_posix()
        and (length := len(path.read_text().splitlines())) > REALTIME_MODULE_MAX_LINES
    }
    assert long == {}


def module_name(path: Path) -> str:
    """`realtime/models.py` -> `realtime.models`; a package's `__init__.py` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def realtime_imports() -> dict[str, set[str]]:
    """{realtime module: the realtime modules it imports (at the top, inside a function or for
    type checking alike)}, migrations left out. `from realtime import models` names
    realtime.models."""
    paths = [
        path for path in sorted((ROOT / "realtime").rglob("*.py")) if "migrations" not in path.parts
    ]
    names = {module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module_name(path)] = {name for name in found if name in names} - {module_name(path)}
    return graph


def test_realtime_has_no_import_cycle() -> None:
    """No realtime module imports, directly or through others, a module that imports it: not
    even lazily inside a function (README.md, "Layout")."""
    graph = realtime_imports()
    assert "realtime.models" in graph
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycles.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for imported_name in sorted(graph[name]):
            visit(imported_name, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


REALTIME_MODULE_MAX_LINES = 450


def test_no_realtime_module_is_over_450_lines() -> None:
    """Every module of realtime/ reads in one sitting (README.md, "Layout")."""
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
        for path in sorted((ROOT / "realtime").rglob("*.py"))
        if "migrations" not in path.parts
    }
    assert sizes
    assert {name: size for name, size in sizes.items() if size > REALTIME_MODULE_MAX_LINES} == {}


# realtime/'s root holds the app itself and what every sub-package shares; everything else lives
# in the sub-package of its step on the way from a write to a screen (README.md, "Layout").
REALTIME_ROOT_MODULES = {
    "__init__",
    "apps",
    "db",
    "models",
    "per_loop",
    "protocol",
    "redis_store",
    "routing",
}
REALTIME_PACKAGES = ("delivery", "connection", "presence", "ops")


def test_realtime_modules_live_in_their_sub_packages() -> None:
    """A new realtime module goes in delivery/, connection/, presence/ or ops/, not the root."""
    root = ROOT / "realtime"
    assert {path.stem for path in root.glob("*.py")} - REALTIME_ROOT_MODULES == set()
    for package in REALTIME_PACKAGES:
        assert (root / package / "__init__.py").read_text().strip(), package
