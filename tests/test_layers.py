"""The package's layout is its pipeline: imports only run downwards, and no module imports itself back.

The stage order below is the one the README and ``docs/`` describe. Every ``import`` and
``from ... import`` of a ``siting`` module is read from the source (those inside functions and
under ``TYPE_CHECKING`` too: a type-only upward import is still an upward dependency), and:

* a module of one stage may import its own package and the stages below it, never a stage
  above it nor another package of its own stage;
* the graph of module imports has no cycle.

The checks are plain functions, shown failing on deliberately bad imports in the tests at
the end of this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "siting"

#: Bottom to top. A module belongs to the first entry its dotted name starts with.
STAGES: tuple[tuple[str, ...], ...] = (
    ("siting._version", "siting.errors", "siting.files"),
    ("siting.execution",),
    ("siting.data",),
    ("siting.walking",),
    ("siting.coverage",),
    ("siting.model",),
    ("siting.solvers",),
    ("siting.optimizer",),
    ("siting.pipeline",),
    ("siting.studies", "siting.city", "siting.locate"),
    ("siting.report",),
    ("siting.serve",),
    ("siting.cli",),
    ("siting",),  # the package's __init__: the public API, on top of everything
)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """Dotted name of a source file under the package folder."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every ``siting`` module a source imports (relative imports resolved)."""
    out: set[str] = set()
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "siting")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.split(".")[0] != "siting":
                continue
            out.add(name)
            for alias in node.names:  # `from siting.data import readers` imports siting.data.readers
                out.add(f"{name}.{alias.name}")
    return out


def stage_of(module: str, stages: tuple[tuple[str, ...], ...] = STAGES) -> tuple[int, str]:
    """(stage index, the package the module belongs to); the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for i, prefixes in enumerate(stages):
        for p in prefixes:
            inside = module == p or (p != "siting" and module.startswith(p + "."))
            if inside and (best is None or len(p) > len(best[1])):
                best = (i, p)
    if best is None:
        raise AssertionError(f"{module} is in no stage of STAGES; add it where it belongs")
    return best


def upward_imports(graph: Mapping[str, Iterable[str]],
                   stages: tuple[tuple[str, ...], ...] = STAGES) -> list[str]:
    """Imports of a stage above, or of another package of the same stage."""
    problems = []
    for module, targets in sorted(graph.items()):
        level, home = stage_of(module, stages)
        for target in sorted(targets):
            if target not in graph:
                continue  # `from siting.x import name` also lists siting.x.name; only modules count
            t_level, t_home = stage_of(target, stages)
            if t_level > level or (t_level == level and t_home != home):
                problems.append(f"{module} imports {target} (stage {t_level} {t_home} over stage {level} {home})")
    return problems


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import cycles of a graph (one per strongly connected component larger than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm; the package is small enough for recursion
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the ``siting`` modules it imports, for every source file of the package.

    A package's ``__init__`` re-exporting its modules is not a dependency of those modules on
    it: ``from siting.pipeline import prepare`` depends on ``siting.pipeline.prepare``, so an
    import of a package counts as an import of its ``__init__`` only.
    """
    files = sorted(root.rglob("*.py"))
    names = {module_name(f, root): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = imported_modules(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py")
        graph[name] = {t for t in targets if t in names and t != name}
    return graph


def test_every_module_has_a_stage() -> None:
    for module in package_graph():
        stage_of(module)


def test_imports_only_run_downwards() -> None:
    problems = upward_imports(package_graph())
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    found = cycles(package_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


# The checks themselves, on deliberately bad imports -------------------------------------------

def _graph_of(sources: dict[str, str]) -> dict[str, set[str]]:
    graph = {}
    for name, src in sources.items():
        graph[name] = {t for t in imported_modules(src, name) if t in sources and t != name}
    return graph


def test_an_upward_import_is_caught() -> None:
    sources = {
        "siting.model.covering": "from siting.pipeline.solve import solve_prepared\n",  # model reaching up
        "siting.pipeline.solve": "from siting.model.covering import x\n",
    }
    problems = upward_imports(_graph_of(sources))
    assert problems == ["siting.model.covering imports siting.pipeline.solve "
                        "(stage 8 siting.pipeline over stage 5 siting.model)"]
    with pytest.raises(AssertionError, match="upward imports"):
        assert not problems, "upward imports:\n" + "\n".join(problems)


def test_an_import_inside_a_function_or_type_checking_counts() -> None:
    src = ("from typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n    from siting.report.html import x\n"
           "def f():\n    from siting.cli.app import main\n")
    assert imported_modules(src, "siting.data.readers") >= {"siting.report.html", "siting.cli.app"}
    graph = {"siting.data.readers": {"siting.report.html", "siting.cli.app"},
             "siting.report.html": set(), "siting.cli.app": set()}
    assert len(upward_imports(graph)) == 2


def test_a_sideways_import_between_packages_of_one_stage_is_caught() -> None:
    graph = {"siting.city.batch": {"siting.studies.sweep"}, "siting.studies.sweep": set()}
    assert upward_imports(graph) == ["siting.city.batch imports siting.studies.sweep "
                                     "(stage 9 siting.studies over stage 9 siting.city)"]


def test_a_cycle_is_caught() -> None:
    sources = {
        "siting.model.covering": "from siting.model.instance import CoveringInstance\n",
        "siting.model.instance": "from siting.model.covering import PlanningRules\n",
        "siting.model.milp": "",
    }
    assert cycles(_graph_of(sources)) == [["siting.model.covering", "siting.model.instance"]]


def test_relative_imports_are_resolved() -> None:
    assert imported_modules("from ..model import covering\n", "siting.optimizer.lns") == {
        "siting.model", "siting.model.covering"}
    assert imported_modules("from . import tasks\n", "siting.execution", is_package=True) == {
        "siting.execution", "siting.execution.tasks"}


def test_a_module_outside_every_stage_is_named() -> None:
    with pytest.raises(AssertionError, match="siting_extra is in no stage"):
        stage_of("siting_extra")
