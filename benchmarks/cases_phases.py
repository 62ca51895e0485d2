"""Plans in phases on the shared district, beside the single-moment solve, in one run.

The district instance (``../shared/benchmarks/district/generate.py``, read through
:mod:`benchmarks.district`, its own objective: weighted residents covered) is solved:

- ``single phase``: the whole budget at once, :func:`siting.optimizer.covering.optimize_covering`;
- ``three phases, myopic``: the budget in three equal phases (money carries over), each phase
  optimised on its own over what is left (:func:`siting.optimizer.phases_large.optimize_myopic_large`);
- ``three phases, joint``: coverage-years over the three phases (each phase one year),
  :func:`siting.optimizer.phases_large.optimize_joint_large` — each phase's plan of one moment
  with its money so far gives the bound, the phased model over their columns (and the myopic
  plan's) gives the plan, warm-started with the myopic plan, as ``siting run`` does.

Same gap target, same time limit per solve, one thread. Each row records the machine's load
average (``os.getloadavg``) before and after: the machine is shared. The quick suite checks the
joint plan on the 2,000 × 200 district against the exact phased model solved directly: the
bound of the relaxation must not be below what the exact model finds, nor the exact bound below
the relaxation's plan.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from benchmarks.district import district_scenario
from benchmarks.registry import Context, Row, case
from siting.data.scenario import load_scenario
from siting.model.phases import PhaseRules
from siting.model.rules import SiteData
from siting.optimizer.covering import optimize_covering
from siting.optimizer.phases import coverage_problem, optimize_joint
from siting.optimizer.phases_large import optimize_joint_large, optimize_myopic_large
from siting.pipeline import prepare
from siting.solvers import SolveOptions

COLUMNS = ("instance", "method", "status", "objective", "bound", "gap", "seconds", "time_limit_s", "load_before",
           "load_after", "detail")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def three_phases(budget: float, n_sites: int) -> PhaseRules:
    """Three phases of a third of the budget each, money carried over, one year each."""
    return PhaseRules(("1", "2", "3"), np.full(3, budget / 3.0), np.ones(3, dtype=bool), np.ones(3),
                      np.zeros(3, dtype=np.int64), np.full(3, -1, dtype=np.int64), np.zeros(n_sites, dtype=np.int64),
                      np.zeros(n_sites, dtype=bool))


def _district(ctx: Context, demand: int, sites: int, time_limit_s: float, gap: float,
              *, exact: bool = False) -> list[Row]:
    ctx.require_shared("district", "generate.py")
    scenario = load_scenario(district_scenario(ctx.shared, demand, sites))
    prepared = prepare(scenario)
    site_data = SiteData.of(prepared.district.sites)
    rules = prepared.rules
    phases = three_phases(rules.budget, len(prepared.district.sites))
    opts = SolveOptions(time_limit_s=time_limit_s, mip_gap=gap, threads=1, seed=0)
    name = f"district {demand}×{sites}"
    rows: list[Row] = []

    def row(method: str, status: str, objective: float, bound: float, gap_: float, seconds: float, before: str,
            detail: str = "") -> Row:
        return {"instance": name, "method": method, "status": status, "objective": objective, "bound": bound,
                "gap": gap_, "seconds": round(seconds, 2), "time_limit_s": time_limit_s, "load_before": before,
                "load_after": _load(), "detail": detail}

    print(f"  {name}: single phase, {time_limit_s:g} s", flush=True)
    before, t0 = _load(), time.perf_counter()
    single = optimize_covering(prepared.coverage, site_data, rules, options=opts).result
    rows.append(row("single phase (optimize_covering)", single.status.value, single.objective, single.bound,
                    single.gap, time.perf_counter() - t0, before))
    print(f"  {name}: three phases, myopic, {time_limit_s:g} s", flush=True)
    before, t0 = _load(), time.perf_counter()
    myopic = optimize_myopic_large(prepared.coverage, site_data, rules, phases, options=opts)
    rows.append(row("three phases, myopic (each phase alone)", myopic.result.status.value, myopic.result.objective,
                    float("nan"), float("nan"), time.perf_counter() - t0, before,
                    "per phase: " + ", ".join(f"{v:,.0f}" for v in myopic.values.get("coverage", []))))
    print(f"  {name}: three phases, joint, {time_limit_s:g} s", flush=True)
    before, t0 = _load(), time.perf_counter()
    steps: list[str] = []
    joint = optimize_joint_large(prepared.coverage, site_data, rules, phases, options=opts, myopic=myopic,
                                 progress=steps.append)
    r = joint.result
    rows.append(row("three phases, joint (relaxation + kernel)", r.status.value, r.objective, r.bound, r.gap,
                    time.perf_counter() - t0, before,
                    "; ".join(steps) + f"; gain over myopic {r.objective - myopic.result.objective:+,.0f}"))
    if r.objective < myopic.result.objective - 1e-6:
        ctx.fail(f"{name}: the joint plan ({r.objective:,.1f}) is below the myopic one "
                 f"({myopic.result.objective:,.1f})")
    if exact:
        print(f"  {name}: three phases, the exact model directly, {time_limit_s:g} s", flush=True)
        problem = coverage_problem(prepared.coverage, site_data, rules, phases)
        before, t0 = _load(), time.perf_counter()
        direct = optimize_joint(problem, phases, options=opts).result
        rows.append(row("three phases, exact model directly (HiGHS)", direct.status.value, direct.objective,
                        direct.bound, direct.gap, time.perf_counter() - t0, before,
                        f"{int(problem.base.A.nnz) * 3:,} nonzeros over the phases"))
        if direct.objective > r.bound * (1 + 1e-9):
            ctx.fail(f"{name}: the exact model finds {direct.objective:,.1f}, above the relaxation's bound "
                     f"{r.bound:,.1f}")
        if r.objective > direct.bound * (1 + 1e-9):
            ctx.fail(f"{name}: the relaxation's plan {r.objective:,.1f} is above the exact bound {direct.bound:,.1f}")
    return rows


@case("phases-district-small", suites=("quick", "full"), columns=COLUMNS,
      title="Three phases vs one: district 2,000 × 200 (gap target 1 %, 60 s per solve), and the exact model")
def phases_small(ctx: Context) -> list[Row]:
    """The quick district, with the exact phased model as the check."""
    return _district(ctx, 2000, 200, 60.0, 0.01, exact=True)


@case("phases-district", suites=("full",), columns=COLUMNS,
      title="Three phases vs one: district 20,000 × 1,000 (goal: within 1 % in 300 s)")
def phases_default(ctx: Context) -> list[Row]:
    """The common district instance at the generator's defaults, gap target 1 %, 300 s per solve."""
    return _district(ctx, 20000, 1000, 300.0, 0.01)


__all__: list[Any] = []
