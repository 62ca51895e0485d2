"""One stage of the standards-first objective (:mod:`siting.optimizer.standards`) through the shared optimizer.

A stage is the standards model (:mod:`siting.model.standards`) with that stage's objective and a
``keep`` row per earlier stage (:func:`siting.model.standards.with_stage`); like every objective
it can be built over fewer pairs, so :func:`solve_stage` hands it to
:func:`siting.optimizer.formulations.search_plan` with:

- a start: the previous stage's plan (it keeps every earlier value) and, on a model too large to
  be solved whole, that plan completed by the greedy with the budget and floor area it leaves
  (opening more never lowers an earlier value; on the 20,000 × 1,000 district the quality stage
  starts at 0.567 instead of 0), or for the first stage the
  greedy plan by gaps closed, then basic, then quality residents served per yuan
  (:class:`~siting.optimizer.gains.GapGains`, :class:`~siting.optimizer.gains.RowGains`);
- a bound by cutting planes (:func:`stage_bound`): a block of ``θ`` per stage objective involved —
  the gaps as coverage rows (a gap is closed when a column reaching it is open, a service the
  district lacks when one of its gaps is), the basic and quality residents served as coverage
  rows with the places of capacity-limited services written over the master's columns
  (:func:`siting.optimizer.capacitated.capacity_rows`) — maximising this stage's block with
  ``Σ θ ≥ kept value`` for every earlier one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import MilpModel, Sense, gaining_columns
from siting.model.rules import PlanningRules, RuleRows, SiteData
from siting.model.standards import StandardsModel, with_stage
from siting.model.structure import SitingModel
from siting.optimizer import generic
from siting.optimizer.capacitated import capacity_rows, row_residents
from siting.optimizer.cutting import CoverCuts, CutOracle, CuttingPlanes, Master
from siting.optimizer.deadline import Deadline
from siting.optimizer.formulations import (
    SitingFormulation,
    bound_step,
    cover_groups,
    knapsack_bound,
    plan_master,
    search_plan,
    site_reach,
)
from siting.optimizer.gains import GapGains, RowGains, StackedGains
from siting.optimizer.generic import PlanSearch, Progress, plan_start, with_fixed, with_plan
from siting.optimizer.greedy import Gains, greedy_plan
from siting.solvers import SolveOptions, SolveResult, Status, solve
from siting.solvers.highs import SMALL_MODEL_NONZEROS

#: Share of a stage's time for its bound (cutting planes, then the master MIP), and of the kernel
#: search's time for each restricted solve but the last. On the shared 20,000 × 1,000 district
#: (120 s, basic stage) the master MIP's first round needs about 30 s to finish, and its plan
#: (2.6059) is a far better start than the one it has when stopped after 16 s (2.5853); from it,
#: one long restricted solve over the best-rated pairs reached 2.6157 (gap 0.84 %) where five short
#: ones reached 2.6059–2.6070 (gap 1.15–1.21 %, the search's defaults 0.45 and 0.5).
STAGE_BOUND_SHARE = 0.6
STAGE_KERNEL_ROUND = 0.8
#: Stages after the first whose whole model is small branch on pseudocosts from the first node
#: (``SolveOptions.pseudocosts``): strong branching took 87 % of HiGHS's LP iterations on the basic
#: stage of the default district's re-solves (18,811 of 21,632 in the slowest one). Measured on the
#: default scenario's 31 analysis re-solves, one after the other, alternating three times: the basic
#: stages 7.2 / 7.4 / 7.5 s against 8.3 / 8.1 / 8.5 s, every objective the same. The gaps stage
#: keeps strong branching: with pseudocosts it was 12 % slower. Only up to
#: :data:`PSEUDOCOST_MAX_NONZEROS`: on the shared district generator's standards scenario, one run
#: each, 1,200 × 120 (about 9,000 nonzeros) took 0.86 s against 1.19 s, 2,000 × 150 (18,000) 6.4 s
#: against 5.6 s (its basic stage 1.6 s against 0.85 s); and the basic stage over time of
#: ``scenarios/phased.yaml`` (11,000 nonzeros, not this path) found no optimum in 60 s with them,
#: against 7.4 s without.
PSEUDOCOST_STAGES = frozenset({"basic", "quality"})
PSEUDOCOST_MAX_NONZEROS = 10_000


@dataclass(frozen=True)
class StageOutcome:
    """A stage's plan (``None`` without one), its value and the solver's account."""

    hosts: np.ndarray | None
    value: float
    result: SolveResult


def stage_of(built: StandardsModel, name: str, keeps: list[tuple[str, float]]) -> SitingModel:
    """The model of one stage: its objective, every earlier stage's value kept."""
    milp = built.model.milp
    zero = np.zeros(milp.n_cols)
    stage = with_stage(milp, built.objectives.get(name, zero), [(built.objectives.get(n, zero), v) for n, v in keeps],
                       f"standards first: {name}")
    return SitingModel(stage, built.model.cols, built.model.rows, "standards", built.model.stats)


def _gap_rows(built: StandardsModel) -> tuple[sparse.csr_matrix, sparse.csr_matrix] | None:
    """The gaps as coverage rows over ``x`` (gaps × columns) and the gaps of each lacking service."""
    milp = built.model.milp
    if "presence" not in milp.row_blocks:
        return None
    xs = milp.col_blocks["x"]
    reach = -milp.A[milp.row_blocks["presence"]][:, xs]
    reach = sparse.csr_matrix(reach > 0.5, dtype=np.float64)
    if "district" in milp.row_blocks:
        link = sparse.csr_matrix(-milp.A[milp.row_blocks["district"]][:, milp.col_blocks["g"]] > 0.5, dtype=np.float64)
    else:
        link = sparse.csr_matrix((0, reach.shape[0]))
    return reach, link


def stage_gains(built: StandardsModel, capacity: np.ndarray) -> Gains:
    """The first stage's greedy: gaps closed, then basic, then quality residents served."""
    model = built.model
    z = model.milp.col_blocks["z"]
    zero = np.zeros(model.milp.n_cols)
    levels = np.vstack([built.objectives.get(n, zero)[z] for n in ("basic", "quality")])
    rows: list[Gains] = [RowGains(model.rows.R, levels, row_residents(model.rows),
                                  np.asarray(capacity, dtype=float)[model.cols.x_service])]
    gaps = _gap_rows(built)
    if gaps is not None:
        rows.insert(0, GapGains(*gaps))
    return StackedGains(rows)


def _embed(block: RuleRows, widths: dict[str, int], offsets: dict[str, int]) -> RuleRows:
    """A row block written over local ``theta`` / ``share`` columns, moved to the master's full blocks."""
    parts = {}
    for name, m in block.parts.items():
        if name in offsets:
            coo = sparse.coo_matrix(m)
            parts[name] = sparse.csr_matrix((coo.data, (coo.row, coo.col + offsets[name])),
                                            shape=(m.shape[0], widths[name]))
        else:
            parts[name] = sparse.csr_matrix(m)
    return replace(block, parts=parts)


def stage_bound(built: StandardsModel, name: str, keeps: list[tuple[str, float]], sites: SiteData,
                rules: PlanningRules, capacity: np.ndarray) -> Callable[[PlanSearch, float], np.ndarray | None]:
    """The stage's cutting-plane bound (module docstring), as a bound step for the search."""
    model = built.model
    rows, cols = model.rows, model.cols
    z = model.milp.col_blocks["z"]
    zero = np.zeros(model.milp.n_cols)
    residents = row_residents(rows)
    group, H = cover_groups(rows.R, cols, np.maximum(residents, 1e-12))
    oracles: list[tuple[CutOracle, int]] = []
    local: list[tuple[RuleRows, int, int]] = []  # a row block with its θ and share offsets
    first_of: dict[str, tuple[int, int]] = {}
    n_theta, n_share = 0, 0
    for stage in [*[n for n, _v in keeps], name]:
        first = n_theta
        if stage == "gaps":
            gaps = _gap_rows(built)
            if gaps is None:
                continue
            reach, link = gaps
            R = sparse.vstack([reach, (link @ reach) > 0.5], format="csr", dtype=np.float64)
            w = np.r_[np.ones(reach.shape[0]), np.full(link.shape[0], float(reach.shape[0] + 1))]
            oracles.append((CoverCuts(R, w, np.arange(R.shape[0]), R.shape[0]), first))
            n_theta += R.shape[0]
        else:
            w = built.objectives.get(stage, zero)[z]
            oracles.append((CoverCuts(rows.R, w, group, H), first))
            n_theta += H
            k, blocks = capacity_rows(rows.R, cols, w, residents, group, H, capacity)
            local += [(b, first, n_share) for b in blocks]
            n_share += k
        first_of[stage] = (first, n_theta)
    widths = {"theta": n_theta, "share": n_share}
    extra = [_embed(b, widths, {"theta": t0, "share": s0}) for b, t0, s0 in local]
    for stage, value in keeps:  # Σ θ of an earlier stage ≥ its kept value
        if stage not in first_of:
            continue
        a, b = first_of[stage]
        pick = sparse.csr_matrix((np.ones(b - a), (np.zeros(b - a, dtype=np.int64), np.arange(a, b))),
                                 shape=(1, n_theta))
        extra.append(RuleRows("keep", {"theta": pick}, np.array([value - 1e-9 * max(abs(value), 1.0)]),
                              np.array([np.inf])))
    plan_rows, lo, hi, set_cols = plan_master(cols, sites, rules)
    c = np.zeros(n_theta)
    a, b = first_of.get(name, (0, 0))
    c[a:b] = 1.0
    sizes = {"x": cols.n_pairs, "y": cols.n_sites, "theta": n_theta, **({"share": n_share} if n_share else {}),
             **set_cols}
    master = Master(sizes, plan_rows + extra, {"theta": c}, Sense.MAXIMIZE, lo, hi,
                    evaluable=not keeps and not n_share)

    def step(search: PlanSearch, seconds: float) -> np.ndarray | None:
        # stabilised from the origin, not from the best plan: on the 20,000 × 1,000 district the basic
        # stage's master LP converged in 55 iterations (27 s) from the origin, and had not converged
        # after 31 (60 s) from the greedy plan, whose cuts made each master LP 2-4 times slower
        planes = CuttingPlanes(master, oracles, threads=search.options.threads, seed=search.options.seed)
        return bound_step(search, planes, cols, seconds, start=None)

    return step


def stage_quick_bound(built: StandardsModel, name: str, sites: SiteData, rules: PlanningRules,
                      capacity: np.ndarray) -> float:
    """A bound before any LP: every gap closed; the knapsack bound of the residents served."""
    model = built.model
    if name == "gaps":
        return float(np.maximum(built.objectives[name], 0).sum())
    w = built.objectives.get(name, np.zeros(model.milp.n_cols))[model.milp.col_blocks["z"]]
    return knapsack_bound(model.rows.R, w, model.cols, sites, rules, capacity=capacity,
                          residents=row_residents(model.rows))


def solve_stage(built: StandardsModel, build: Callable[[SiteData], StandardsModel], name: str,
                keeps: list[tuple[str, float]], sites: SiteData, rules: PlanningRules, capacity: np.ndarray,
                options: SolveOptions, deadline: Deadline, *, start: np.ndarray | None,
                say: Progress | None = None) -> StageOutcome:
    """One stage through the shared search (module docstring)."""
    form = SitingFormulation(sites, rules, lambda s: stage_of(build(s), name, keeps))
    full = stage_of(built, name, keeps)
    if name in PSEUDOCOST_STAGES and full.milp.A.nnz <= PSEUDOCOST_MAX_NONZEROS:
        options = replace(options, pseudocosts=True)
    starts: list[np.ndarray] = []
    if start is not None and keeps and full.milp.A.nnz <= SMALL_MODEL_NONZEROS:
        proven = nothing_to_gain(full, name, start, options, deadline)
        if isinstance(proven, StageOutcome):
            return proven
        if proven is not None:  # a plan keeping the earlier values that gains here: the better start
            starts.append(proven)
    if start is not None:
        starts.append(start)
        if keeps and full.milp.A.nnz > generic.DIRECT_MAX_NONZEROS:
            # a large later stage: the previous plan completed greedily with what budget and floor
            # area it leaves (opening more never lowers an earlier stage's value)
            more = greedy_plan(full.cols, sites, rules, stage_gains(built, capacity), start=start,
                               time_limit_s=deadline.share(0.1))
            if more is not None and (more & ~np.asarray(start, dtype=bool)).any():
                starts.append(more)
    else:
        hosts = greedy_plan(full.cols, sites, rules, stage_gains(built, capacity), time_limit_s=deadline.share(0.1))
        if hosts is not None:
            starts.append(hosts)
    search = search_plan(form, Sense.MAXIMIZE, deadline, options, full=full, starts=starts,
                         reach=site_reach(full.rows.R, full.cols),
                         bound=lambda search, seconds: stage_bound(built, name, keeps, sites, rules, capacity)(
                             search, seconds), say=say,  # built only when the model is not solved whole
                         quick_bound=stage_quick_bound(built, name, sites, rules, capacity),
                         bound_share=STAGE_BOUND_SHARE, kernel_round=STAGE_KERNEL_ROUND)
    result = search.result(f"standards first, {name} stage: greedy, bound, kernel and neighbourhood search")
    if search.best is None:
        return StageOutcome(None, float("nan"), result)
    return StageOutcome(search.best, float(search.value), replace(result, solution=search.best.ravel().astype(float)))


def can_gain(stage: MilpModel, gaining: np.ndarray, options: SolveOptions, seconds: float) -> SolveResult:
    """Ask whether a solution of a stage's model can set one of its ``gaining`` columns to 1.

    ``stage`` is a later stage's model (its objective, the earlier values kept, as
    :func:`~siting.model.standards.with_stage` writes it) and ``gaining`` the mask of
    :func:`~siting.model.milp.gaining_columns` over its objective: the model with ``Σ gaining ≥ 1``
    and no objective, solved by HiGHS within ``seconds``. ``INFEASIBLE`` proves the stage's optimum
    is 0 (every solution keeping the earlier values scores 0 in it); a solution found is one that
    may gain (a better start than one that cannot).
    """
    cols = np.flatnonzero(gaining)
    row = sparse.csr_matrix((np.ones(cols.size), (np.zeros(cols.size, dtype=np.int64), cols)),
                            shape=(1, stage.n_cols))
    check = replace(stage, objective=np.zeros(stage.n_cols), A=sparse.vstack([stage.A, row], format="csr"),
                    row_lower=np.r_[stage.row_lower, 1.0], row_upper=np.r_[stage.row_upper, np.inf],
                    name=f"{stage.name}: can a plan keeping the earlier stages open a pair this stage values?")
    return solve(check, "highs", replace(options, time_limit_s=max(seconds, 0.05), warm_start=None, isolate=False))


def gain_question(stage: MilpModel, previous: np.ndarray, options: SolveOptions, seconds: float
                  ) -> SolveResult | None:
    """A later stage's feasibility question (:func:`can_gain`), asked when the ``previous`` stage's
    solution (its column values; ``nan`` where not given) opens none of the columns the stage needs to
    score above 0 (:func:`~siting.model.milp.gaining_columns`); ``None`` when not asked."""
    gaining = gaining_columns(stage, stage.objective)
    if gaining is None or np.any(np.nan_to_num(previous[gaining]) > 0.5):
        return None
    return can_gain(stage, gaining, options, seconds)


def nothing_to_gain(model: SitingModel, name: str, start: np.ndarray,
                    options: SolveOptions, deadline: Deadline) -> StageOutcome | np.ndarray | None:
    """The stage's answer when no plan keeping the earlier stages' values can open a pair it values.

    ``model`` is the stage's model (:func:`stage_of`: its objective, the earlier values kept).

    A later stage (quality after basic, typically) gains only through the pairs that reach a
    row its objective values (``z_r ≤ Σ x`` over the pairs reaching row ``r``). When the earlier
    stages' model with ``Σ x ≥ 1`` over those pairs has no solution, every plan keeping the
    earlier values scores 0 in this stage, so the previous stage's plan (``start``) is optimal
    with value 0: proven by one feasibility solve, which on the default district is several times
    faster than branch and bound on the stage's objective. When such a plan exists, the solve
    usually finds one: it is returned (a boolean sites × services plan keeping the earlier values
    that gains in this stage, a better start than ``start``). Returns ``None`` (solve the stage as
    usual) when the proof did not finish in its share of the time, or the stage's objective is not
    over coverage rows.

    :func:`solve_stage` asks only on models up to
    :data:`~siting.solvers.highs.SMALL_MODEL_NONZEROS`: on the 2,000 × 200 district (34,000
    nonzeros) finding the plan that answers "yes" took 8.9 s, a third of the whole solve.
    """
    t0 = time.perf_counter()
    r = gain_question(model.milp, plan_start(model, np.asarray(start, dtype=bool)), options, deadline.share(0.3))
    if r is None:  # the objective is not over coverage rows, or the previous plan gains already: solve as usual
        return None
    if r.status is not Status.INFEASIBLE:
        return None if r.solution is None else model.hosts(r.solution)
    seconds = time.perf_counter() - t0
    message = (f"standards first, {name} stage: no plan keeping the earlier stages' values can open a service "
               f"this stage values (a feasibility solve, {seconds:.2f} s): value 0, the previous plan kept")
    result = SolveResult(Status.OPTIMAL, start.ravel().astype(float), 0.0, 0.0, 0.0, r.solver,
                         {"solve": seconds}, message)
    return StageOutcome(np.asarray(start, dtype=bool), 0.0, result)


def _whole_stage(built: StandardsModel, name: str, keeps: list[tuple[str, float]], start: np.ndarray | None,
                 backend: str, options: SolveOptions) -> StageOutcome:
    """One stage's whole model handed to a backend (backends other than HiGHS), warm-started from ``start``."""
    stage = stage_of(built, name, keeps)
    warm = plan_start(stage, start) if start is not None else None
    r = solve(stage.milp, backend, replace(options, warm_start=warm))
    if r.solution is None:
        return StageOutcome(None, float("nan"), r)
    return StageOutcome(stage.hosts(r.solution), float(stage.milp.objective @ r.solution), r)


def served_by(built: StandardsModel, build: Callable[[SiteData], StandardsModel], hosts: np.ndarray,
              keeps: list[tuple[str, float]], sites: SiteData, coverage: Coverage, capacity: np.ndarray,
              options: SolveOptions) -> np.ndarray:
    """Residents newly served per coverage pair under the plan.

    Capacity-limited services: the allocation of the last stage's model over the plan's own pairs
    (a small LP: a small model with its columns held at the plan, a larger one built again over
    the plan's pairs); the others: every resident the plan newly brings within reach.
    """
    within = coverage.covered_population(hosts) - coverage.baseline_population()
    limited = np.array([np.isfinite(capacity[s]) for s, _g in coverage.pairs], dtype=bool)
    if not limited.any():
        return np.asarray(within)
    name = keeps[-1][0]
    if built.model.milp.A.nnz <= SMALL_MODEL_NONZEROS:
        model = stage_of(built, name, keeps[:-1])
        fixed = with_plan(model, hosts)
    else:
        model = stage_of(build(replace(sites, allowed=sites.allowed & hosts)), name, keeps[:-1])
        fixed = with_fixed(model, hosts)
    r = solve(fixed, "highs", replace(options, time_limit_s=max(options.time_limit_s, 5.0), mip_gap=1e-9,
                                      warm_start=plan_start(model, hosts), isolate=False))
    if r.solution is None:
        return np.asarray(within)
    z = np.clip(r.solution[model.milp.col_blocks["z"]], 0.0, 1.0)
    from_model = np.asarray(model.rows.residents.T @ z).ravel()
    out: np.ndarray = np.where(limited, np.minimum(from_model, within), within)
    return out


__all__ = ["StageOutcome", "served_by", "solve_stage", "stage_bound", "stage_gains", "stage_of"]
