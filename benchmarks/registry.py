"""A small registry of named benchmark cases.

A case is a function decorated with :func:`case`; it takes a :class:`Context` and returns a
list of result rows (plain dicts). Cases live in ``benchmarks/cases_*.py`` modules, which
``python -m benchmarks`` imports. Each case belongs to one or more suites (``quick``, ``full``);
``quick`` must finish in under 5 minutes on a 2-core machine.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Row = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What every case gets: where the shared instances are, and a scratch folder."""

    shared: Path
    scratch: Path
    suite: str

    def require_shared(self, *parts: str) -> Path:
        """Path inside the shared benchmark folder; raises :class:`Skip` when absent."""
        path = self.shared.joinpath(*parts)
        if not path.exists():
            raise Skip(f"{path} not found (set SITING_BENCHMARKS to the shared benchmarks folder)")
        return path


class Skip(Exception):
    """Raised by a case that cannot run here; the message says why."""


@dataclass(frozen=True)
class Case:
    """A registered benchmark case."""

    name: str
    func: Callable[[Context], list[Row]]
    suites: tuple[str, ...]
    title: str
    columns: tuple[str, ...] = field(default_factory=tuple)


CASES: dict[str, Case] = {}


def case(name: str, *, suites: tuple[str, ...] = ("quick", "full"), title: str = "",
         columns: tuple[str, ...] = ()) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    """Register a benchmark case under ``name``.

    Parameters
    ----------
    name
        Unique name (``--case`` selects by prefix).
    suites
        Suites that run it.
    title
        Heading of its table in the Markdown report.
    columns
        Column order of its table (default: the keys of the first row).
    """

    def register(func: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} registered twice")
        CASES[name] = Case(name, func, suites, title or name, columns)
        return func

    return register


def load_cases() -> dict[str, Case]:
    """Import every ``benchmarks/cases_*.py`` module and return the registry."""
    pkg = Path(__file__).resolve().parent
    for info in sorted(pkgutil.iter_modules([str(pkg)]), key=lambda i: i.name):
        if info.name.startswith("cases_"):
            importlib.import_module(f"benchmarks.{info.name}")
    return CASES


def shared_dir() -> Path:
    """The shared benchmark folder: ``SITING_BENCHMARKS`` or ``../shared/benchmarks``."""
    return Path(os.environ.get("SITING_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
