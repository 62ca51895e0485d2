"""Solver backends behind one small interface.

Use :func:`solve` with a backend name; :func:`available_solvers` says which are installed.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np

from siting.errors import SolverUnavailableError
from siting.model.milp import MilpModel
from siting.solvers.base import Backend, SolveOptions, SolveResult, Status

#: The backends that come with siting: name → (module, class, constructor arguments). Each module
#: is imported when its backend is first asked for, so that a run on HiGHS never imports the others.
_BUILT_IN: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "highs": ("siting.solvers.highs", "HighsBackend", ()),
    "pulp-highs": ("siting.solvers.pulp_backend", "PulpBackend", ("highs",)),
    "pulp-cbc": ("siting.solvers.pulp_backend", "PulpBackend", ("cbc",)),
    "ortools-cpsat": ("siting.solvers.cpsat", "CpSatBackend", ()),
    "ortools-scip": ("siting.solvers.scip", "ScipBackend", ()),
}
#: The backends in use: the built-in ones once asked for, and those added by :func:`register`.
_BACKENDS: dict[str, Backend] = {}


def _backend(name: str) -> Backend | None:
    """The backend of this name (a built-in one is made on first use), or ``None``."""
    backend = _BACKENDS.get(name)
    if backend is None and name in _BUILT_IN:
        module, cls, args = _BUILT_IN[name]
        backend = _BACKENDS[name] = getattr(importlib.import_module(module), cls)(*args)
    return backend


def register(backend: Backend) -> None:
    """Add a backend to the registry under its name."""
    _BACKENDS[backend.name] = backend


def backend_names() -> list[str]:
    """Every known backend, installed or not."""
    return sorted(set(_BUILT_IN) | set(_BACKENDS))


def available_solvers() -> list[str]:
    """Backends that are installed and work on this machine."""
    return [name for name in backend_names() if (b := _backend(name)) is not None and b.available()]


def get_backend(name: str) -> Backend:
    """The backend of this name.

    Raises
    ------
    SolverUnavailableError
        When the name is unknown or its package is not installed; the message names the
        alternatives.
    """
    backend = _backend(name)
    if backend is None:
        raise SolverUnavailableError(
            f"unknown solver backend '{name}'; choose one of {backend_names()} "
            f"(installed here: {available_solvers()})")
    if not backend.available():
        raise SolverUnavailableError(
            f"solver backend '{name}' is not installed; installed here: {available_solvers()}")
    return backend


def solve(model: MilpModel, backend: str = "highs", options: SolveOptions | None = None) -> SolveResult:
    """Solve a model with the named backend (in a watched child process when ``options.isolate``)."""
    options = options or SolveOptions()
    chosen = get_backend(backend)
    start = options.warm_start
    if start is not None and chosen.name != "highs" and not np.isfinite(np.asarray(start, dtype=float)).all():
        options = replace(options, warm_start=None)  # a partial start: only HiGHS completes one
    if options.isolate:
        from siting.solvers.isolated import solve_isolated

        return solve_isolated(model, chosen, options)
    return chosen.solve(model, options)


__all__ = ["Backend", "SolveOptions", "SolveResult", "Status", "available_solvers", "backend_names",
           "get_backend", "register", "solve"]
