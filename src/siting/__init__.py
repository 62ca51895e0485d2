"""siting: which idle building becomes which community service.

An optimization engine for 15-minute community life circles (15分钟社区生活圈): it reads a
scenario (demand, an idle-asset ledger, existing facilities, a walking network), computes who
can walk to which site within each service's walking limit at each age group's speed, and
chooses the retrofit plan that covers the most residents of every age for the budget.

The public Python API (everything else may change between versions):

:func:`load_scenario`, :func:`run_scenario`
    Read a scenario file; run it through every stage (a :class:`RunResult` with its
    :class:`Plan`: status, objective, bound, gap, cost, coverage).
:mod:`siting.locate`
    The classic location models on a cost matrix or two GeoDataFrames: ``mclp``, ``lscp``,
    ``p_median``, each returning a :class:`~siting.locate.LocateResult`.
:class:`Status`, :class:`SitingError`
    How a solve ended; the error every user mistake raises.

Names are imported on first use, so that ``import siting`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siting import locate
    from siting._version import __version__
    from siting.data.scenario import Scenario, load_scenario
    from siting.errors import SitingError
    from siting.locate import LocateResult
    from siting.pipeline import Plan, Prepared, RunResult, prepare, run_scenario, solve_prepared
    from siting.solvers.base import Status

_EXPORTS = {
    "__version__": "siting._version",
    "load_scenario": "siting.data.scenario",
    "Scenario": "siting.data.scenario",
    "run_scenario": "siting.pipeline",
    "prepare": "siting.pipeline",
    "solve_prepared": "siting.pipeline",
    "Plan": "siting.pipeline",
    "Prepared": "siting.pipeline",
    "RunResult": "siting.pipeline",
    "LocateResult": "siting.locate",
    "Status": "siting.solvers.base",
    "SitingError": "siting.errors",
}


def __getattr__(name: str) -> Any:
    if name == "locate":
        return importlib.import_module("siting.locate")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'siting' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["LocateResult", "Plan", "Prepared", "RunResult", "Scenario", "SitingError", "Status", "__version__",
           "load_scenario", "locate", "prepare", "run_scenario", "solve_prepared"]
