"""The maximal covering location problem (MCLP) three ways, on one cost matrix.

Used by the peer benchmark (``cases_peers.py``): the same instance — a demand × site cost
matrix, demand weights, a radius and ``p`` sites — is solved

* by ``siting``: a single-service, single-age-group :class:`~siting.coverage.Coverage` built
  from the cost matrix (the pairs within the radius as a :class:`~siting.walking.Reach`), then
  :func:`siting.optimizer.covering.optimize_covering` with ``max_sites = p`` and an unbounded budget;
* as the plain MIP on the same solver (HiGHS through ``siting``'s backend): the textbook
  formulation, one coverage row per demand point, no merging, no warm start, no heuristic;
* by PySAL spopt: ``MCLP.from_cost_matrix(...).solve(...)`` with CBC or with HiGHS, both
  through PuLP;

and, for reference, by a plain greedy (no bound). The plain MIP::

    maximise    Σ_i w_i z_i
    subject to  z_i ≤ Σ_{j : d_ij ≤ S} x_j     for every demand point i
                Σ_j x_j ≤ p
                x ∈ {0, 1},  0 ≤ z ≤ 1

Every function returns a plain dict row: objective, bound, gap, status and seconds per step.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import MilpModel, Sense
from siting.model.rules import PlanningRules, SiteData
from siting.optimizer.covering import optimize_covering
from siting.solvers import SolveOptions, solve
from siting.solvers.common import stdout_silenced
from siting.walking import Reach

Row = dict[str, Any]


# ---------------------------------------------------------------- instances


def uniform_instance(n: int, m: int, *, p: int = 20, quantile: float = 0.05, seed: int = 0,
                     side: float = 10_000.0) -> dict[str, Any]:
    """A synthetic uniform MCLP instance.

    ``n`` demand points and ``m`` candidate sites uniform in a square of ``side`` metres,
    integer weights uniform in 1…499, Euclidean cost matrix, radius the ``quantile`` of all
    distances (the lower value, so that exactly that share of pairs is within the radius).

    Returns
    -------
    dict
        ``cost`` (n × m, float64), ``weights`` (n,), ``radius``, ``p``, ``name``.
    """
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0.0, side, (n, 2))
    sites = rng.uniform(0.0, side, (m, 2))
    weights = rng.integers(1, 500, n).astype(np.float64)
    cost = distance_matrix(demand, sites)
    k = math.floor(quantile * cost.size)
    radius = float(np.partition(cost.ravel(), k)[k])
    return {"name": f"uniform {n:,} × {m:,}", "cost": cost, "weights": weights, "radius": radius, "p": p}


def distance_matrix(a: np.ndarray, b: np.ndarray, chunk: int = 5_000) -> np.ndarray:
    """Dense Euclidean distances between two point sets, computed in row chunks."""
    out = np.empty((len(a), len(b)))
    for s in range(0, len(a), chunk):
        d = a[s:s + chunk, None, :] - b[None, :, :]
        out[s:s + chunk] = np.sqrt(np.einsum("ijk,ijk->ij", d, d))
    return out


def spopt_sf_instance() -> dict[str, Any]:
    """spopt's own San Francisco data: 205 census tracts × 16 candidate stores.

    Read from the CSV files shipped in spopt's wheel (``spopt/tests/test_locate/data``), the
    way spopt's tests read them: network distances pivoted to a tract × store matrix, weights
    the tracts' population in 2000 (POP2000), radius 5,000 m, p = 4.

    Raises
    ------
    FileNotFoundError
        When the installed spopt does not ship the files.
    """
    import pandas as pd
    import spopt

    data = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    dist_file = data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
    demand_file = data / "SF_demand_205_centroid_uniform_weight.csv"
    for f in (dist_file, demand_file):
        if not f.is_file():
            raise FileNotFoundError(f"spopt {spopt.__version__} does not ship {f.name} (looked in {data})")
    dist = pd.read_csv(dist_file, dtype={"DestinationName": str})
    cost = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(demand_file, dtype={"NAME": str}).sort_values("NAME")
    names = cost.index.astype(str)
    if list(names) != list(demand["NAME"]):
        raise ValueError("the tracts of the distance table and of the demand table differ")
    # store columns in natural order (Store_1 … Store_16)
    stores = sorted(cost.columns, key=lambda s: int(str(s).rsplit("_", 1)[-1]))
    return {"name": "spopt SF 205 × 16", "cost": cost[stores].to_numpy(dtype=np.float64),
            "weights": demand["POP2000"].to_numpy(dtype=np.float64), "radius": 5000.0, "p": 4}


# ---------------------------------------------------------------- siting


def coverage_from_cost(cost: np.ndarray, weights: np.ndarray, radius: float) -> Coverage:
    """``siting``'s coverage of a one-service, one-group instance, from a cost matrix."""
    o, d = np.nonzero(cost <= radius)
    reach = Reach(o.astype(np.int64), d.astype(np.int64), cost[o, d], cost.shape, radius)
    n = cost.shape[0]
    return Coverage(service_keys=("service",), group_keys=("everyone",), pairs=((0, 0),),
                    reach=(reach.within(radius),), baseline=(np.zeros(n, dtype=bool),),
                    population=np.asarray(weights, dtype=np.float64)[:, None], limit_m=(radius,))


def mclp_rules(m: int, p: int) -> tuple[SiteData, PlanningRules]:
    """Sites and rules of the MCLP in ``siting``'s terms: at most ``p`` sites, no budget."""
    sites = SiteData(floor_area=np.ones(m), retrofit_cost=np.zeros(m), allowed=np.ones((m, 1), dtype=bool))
    rules = PlanningRules(budget=math.inf, service_area=np.zeros(1), service_fitout=np.zeros(1),
                          service_weight=np.ones(1), group_weight=np.ones(1), min_sites=np.zeros(1, dtype=np.int64),
                          max_sites=np.array([p], dtype=np.int64), force_in=np.zeros(m, dtype=bool),
                          force_out=np.zeros(m, dtype=bool))
    return sites, rules


def run_siting(inst: dict[str, Any], *, time_limit_s: float, mip_gap: float = 0.0) -> Row:
    """``siting`` end to end on an MCLP instance: coverage from the cost matrix, model, solve."""
    t0 = time.perf_counter()
    coverage = coverage_from_cost(inst["cost"], inst["weights"], inst["radius"])
    t1 = time.perf_counter()
    sites, rules = mclp_rules(inst["cost"].shape[1], inst["p"])
    sol = optimize_covering(coverage, sites, rules, options=SolveOptions(time_limit_s=time_limit_s, mip_gap=mip_gap))
    t2 = time.perf_counter()
    r = sol.result
    chosen = np.flatnonzero(sol.hosts[:, 0])
    return {"method": "siting", "status": r.status.value, "objective": r.objective, "bound": r.bound, "gap": r.gap,
            "sites_chosen": int(chosen.size), "coverage_s": t1 - t0,
            "model_s": sol.timings.get("build", math.nan), "solve_s": t2 - t1 - sol.timings.get("build", 0.0),
            "solver_s": r.timings.get("solve", math.nan), "total_s": t2 - t0,
            "check": covered_weight(inst, chosen), "rows": sol.stats.get("coverage_rows")}


# ---------------------------------------------------------------- the plain MIP


def plain_mclp_model(cost: np.ndarray, weights: np.ndarray, radius: float, p: int) -> MilpModel:
    """The textbook MCLP (module docstring) in matrix form: one row per demand point."""
    n, m = cost.shape
    a = sparse.csr_matrix(cost <= radius, dtype=np.float64)
    cover = sparse.hstack([-a, sparse.identity(n, format="csr")], format="csr")
    count = sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(n)])[None, :])
    A = sparse.vstack([cover, count], format="csr")
    integer = np.zeros(m + n, dtype=bool)
    integer[:m] = True
    return MilpModel(name="plain MCLP", sense=Sense.MAXIMIZE,
                     objective=np.concatenate([np.zeros(m), np.asarray(weights, dtype=np.float64)]),
                     A=A, row_lower=np.full(n + 1, -np.inf), row_upper=np.concatenate([np.zeros(n), [float(p)]]),
                     col_lower=np.zeros(m + n), col_upper=np.ones(m + n), integer=integer,
                     col_blocks={"x": slice(0, m), "z": slice(m, m + n)},
                     row_blocks={"cover": slice(0, n), "count": slice(n, n + 1)})


def run_plain(inst: dict[str, Any], *, time_limit_s: float, mip_gap: float = 0.0) -> Row:
    """The plain MIP on ``siting``'s HiGHS backend (no merging, no warm start)."""
    t0 = time.perf_counter()
    model = plain_mclp_model(inst["cost"], inst["weights"], inst["radius"], inst["p"])
    t1 = time.perf_counter()
    r = solve(model, "highs", SolveOptions(time_limit_s=time_limit_s, mip_gap=mip_gap))
    t2 = time.perf_counter()
    m = inst["cost"].shape[1]
    chosen = np.flatnonzero(r.solution[:m] > 0.5) if r.solution is not None else np.zeros(0, dtype=np.int64)
    return {"method": "plain MIP (HiGHS)", "status": r.status.value, "objective": r.objective, "bound": r.bound,
            "gap": r.gap, "sites_chosen": int(chosen.size), "model_s": t1 - t0, "solve_s": t2 - t1,
            "solver_s": r.timings.get("solve", math.nan), "total_s": t2 - t0,
            "check": covered_weight(inst, chosen), "rows": model.n_rows - 1}


# ---------------------------------------------------------------- greedy


def run_greedy(inst: dict[str, Any]) -> Row:
    """Plain greedy: ``p`` times, add the site covering the most uncovered weight."""
    t0 = time.perf_counter()
    a = sparse.csc_matrix(inst["cost"] <= inst["radius"], dtype=np.float64)
    left = np.asarray(inst["weights"], dtype=np.float64).copy()
    chosen: list[int] = []
    for _ in range(inst["p"]):
        gain = a.T @ left
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        left[a[:, j].indices] = 0.0
    t1 = time.perf_counter()
    value = covered_weight(inst, np.array(chosen, dtype=np.int64))
    return {"method": "greedy", "status": "heuristic", "objective": value, "bound": math.nan, "gap": math.nan,
            "sites_chosen": len(chosen), "total_s": t1 - t0, "check": value}


def covered_weight(inst: dict[str, Any], chosen: np.ndarray) -> float:
    """Weight within the radius of at least one chosen site: the independent check of a plan."""
    if chosen.size == 0:
        return 0.0
    hit = (inst["cost"][:, chosen] <= inst["radius"]).any(axis=1)
    return float(np.asarray(inst["weights"])[hit].sum())


# ---------------------------------------------------------------- spopt


_CBC_LINE = re.compile(r"^(Result|Objective value|Lower bound|Upper bound|Gap|Enumerated nodes|"
                       r"Time \(Wallclock seconds\))\s*[-:]\s*(.*)$")


def _parse_cbc_log(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(errors="replace").splitlines():
        hit = _CBC_LINE.match(line.strip())
        if hit:
            out[hit.group(1)] = hit.group(2).strip()
    return out


def run_spopt(inst: dict[str, Any], solver: str, *, time_limit_s: float, scratch: Path) -> Row:
    """spopt's ``MCLP.from_cost_matrix(...).solve(...)`` with CBC or HiGHS through PuLP.

    Both run single-threaded to a proven optimum (relative gap 0) within ``time_limit_s``;
    ``results=False`` skips spopt's post-processing (client/facility lists), which ``siting``
    does not compute either. When the time limit stops the solver, the row keeps the best
    objective and the bound (CBC: read from its log; HiGHS: from the solver object).
    """
    import pulp
    from spopt.locate import MCLP

    log = scratch / f"cbc-{time.time_ns()}.log"
    if solver == "cbc":
        s = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, threads=1, gapRel=0.0, logPath=str(log))
    elif solver == "highs":
        s = pulp.HiGHS(msg=False, timeLimit=time_limit_s, threads=1, gapRel=0.0)
    else:
        raise ValueError(f"unknown spopt solver {solver!r}")
    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(inst["cost"], inst["weights"], service_radius=inst["radius"],
                                  p_facilities=inst["p"])
    t1 = time.perf_counter()
    note = ""
    try:
        with stdout_silenced():  # HiGHS prints its banner on stdout even with msg=False
            model.solve(s, results=False)
    except RuntimeError as e:  # spopt raises when PuLP's status is not "Optimal"
        note = str(e).split(".")[0]
    t2 = time.perf_counter()
    prob = model.problem
    m = inst["cost"].shape[1]
    x = np.array([v.value() or 0.0 for v in model.fac_vars[:m]])
    chosen = np.flatnonzero(x > 0.5)
    # a plan only where PuLP read an integer solution (optimal or feasible) that keeps to p sites:
    # without one, the values PuLP reads back are no plan
    has_plan = (getattr(prob, "sol_status", 0) in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
                and chosen.size <= inst["p"] and bool(np.all(np.minimum(x, 1 - x) < 1e-6)))
    objective = pulp.value(prob.objective) if has_plan else None
    objective = float(objective) if objective is not None else math.nan
    if not has_plan:
        chosen = np.zeros(0, dtype=np.int64)
    # PuLP says "Optimal" also when the time limit stopped the solver with a solution: the
    # status and the bound come from the solver itself
    status = "optimal" if prob.status == 1 else pulp.LpStatus.get(prob.status, str(prob.status)).lower()
    bound = math.nan
    solver_s = math.nan
    if solver == "cbc":
        info = _parse_cbc_log(log)
        result = info.get("Result", "")
        if "Optimal" in result:
            status, bound = "optimal", objective
        elif "time" in result.lower():
            status = "time_limit"
            # CBC minimises -objective: its "lower bound" is minus our upper bound
            for key in ("Upper bound", "Lower bound"):
                if key in info and (math.isnan(objective) or abs(float(info[key])) >= objective - 1e-6):
                    bound = abs(float(info[key]))
        elif result:
            status = result.lower()
        if "Time (Wallclock seconds)" in info:  # printed to 0.01 s: below that, unknown
            solver_s = float(info["Time (Wallclock seconds)"]) or math.nan
        log.unlink(missing_ok=True)
    else:
        h = getattr(prob, "solverModel", None)
        if h is not None:
            ms = h.modelStatusToString(h.getModelStatus()).lower()
            status = "optimal" if ms == "optimal" else ("time_limit" if "time" in ms else ms)
            # PuLP hands HiGHS the negated objective of a maximisation
            bound = objective if status == "optimal" else -float(h.getInfo().mip_dual_bound)
            solver_s = float(h.getRunTime())
    # spopt's cover variables may stay below what its plan covers: report what the plan covers
    value = covered_weight(inst, chosen) if has_plan else math.nan
    objective = max(objective, value) if has_plan else math.nan
    if not has_plan and status == "time_limit":
        note = note or "time limit reached without an integer solution"
    gap = (abs(bound - objective) / max(abs(objective), 1e-9)
           if math.isfinite(bound) and math.isfinite(objective) else math.inf)
    return {"method": f"spopt + {'CBC' if solver == 'cbc' else 'HiGHS'} (PuLP)", "status": status,
            "objective": objective, "bound": bound, "gap": gap, "sites_chosen": int(chosen.size),
            "model_s": t1 - t0, "solve_s": t2 - t1, "solver_s": solver_s, "total_s": t2 - t0,
            "check": covered_weight(inst, chosen), "note": note}


# ---------------------------------------------------------------- one method in its own process


def make_instance(spec: dict[str, Any]) -> dict[str, Any]:
    """The instance a spec names: ``{"kind": "sf"}`` or ``{"kind": "uniform", "n", "m", "p", "seed"}``."""
    if spec["kind"] == "sf":
        return spopt_sf_instance()
    return uniform_instance(spec["n"], spec["m"], p=spec.get("p", 20), seed=spec.get("seed", 0))


def worker(instance: dict[str, Any], method: str, time_limit_s: float, scratch: str) -> Row:
    """Build the instance and run one method on it (called by ``benchmarks.worker``)."""
    inst = make_instance(instance)
    if method == "siting":
        row = run_siting(inst, time_limit_s=time_limit_s)
    elif method == "plain":
        row = run_plain(inst, time_limit_s=time_limit_s)
    elif method == "greedy":
        row = run_greedy(inst)
    elif method in ("spopt-cbc", "spopt-highs"):
        row = run_spopt(inst, method.split("-")[1], time_limit_s=time_limit_s, scratch=Path(scratch))
    else:
        raise ValueError(f"unknown method {method!r}")
    n, m = inst["cost"].shape
    return {"instance": inst["name"], "n": n, "m": m, "p": inst["p"], "radius": inst["radius"],
            "time_limit_s": time_limit_s, **row}
