"""A plan in phases: any single-moment model copied over the phases, conversions cumulative.

Multi-period maximal covering (the formulation of Gunawardane's dynamic MCLP, with cumulative
facility variables): every column of a single-moment model (the covering model of
:mod:`siting.model.covering`, the standards-first model of :mod:`siting.model.standards`) gets
one copy per phase ``t = 1..T``, phase-major. ``x_{k,t} = 1`` means the (site, service) pair
``k`` is done by the end of phase ``t``, ``y_{j,t} = 1`` that site ``j`` is converted by then;
what phase ``t`` opens is ``x_{k,t} - x_{k,t-1}``. Over the single model's rows::

    maximise    Σ_t ω_t c·u_t                     each stage's value summed over the phases,
                                                  ω_t the phase's coverage-years
    subject to  A_p u_t ∈ [l_p, h_p]              every row of one moment, in every phase t
                                                  (cover, allocation, capacity, link, area,
                                                  presence...) but the budget
                A_f u_T ∈ [l_f, h_f]              sites per service, floors: by the last phase
                x_{k,t} ≤ x_{k,t+1},  y_{j,t} ≤ y_{j,t+1}      a conversion stays       (order)
                phased budget rows                 (siting.model.rules.define_phased_budget)
                m_t ≤ Σ_k (x_{k,t} - x_{k,t-1}) ≤ M_t           conversions per phase (conversions)
                y_{j,t} = 0 for t before the site's first phase  (not_before)
                y_{j,1} = 1 for a pilot site,  y_{j,T} = 1 for a forced one

``u_t`` is phase ``t``'s copy of every column. Coverage, allocation and presence variables of
phase ``t`` can only use what is open in phase ``t``, so each phase's value counts what its
residents enjoy during that phase: a conversion serves from its phase on. The budget, the
requirements and the phase rules all come from their one home, :mod:`siting.model.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from siting.model.milp import MilpModel
from siting.model.rules import RuleRows, define_phased_budget

#: Row blocks of a single-moment model that hold by the last phase only.
FINAL_ONLY = ("count", "floor")


@dataclass(frozen=True)
class PhaseRules:
    """The phases of a plan as arrays.

    Attributes
    ----------
    names
        Phase names, in order.
    budget
        Money of each phase, yuan.
    carry
        Per phase: what it leaves unspent moves to the next phase.
    weight
        Coverage-years of each phase: its years, discounted (:func:`siting.data.phases.phase_weights`).
    min_conversions, max_conversions
        (Site, service) conversions a phase opens: at least / at most (``-1``: no limit).
    first_phase
        Per site, the first phase (index) it may be converted in.
    pilot
        Per site: converted in the first phase.
    """

    names: tuple[str, ...]
    budget: np.ndarray
    carry: np.ndarray
    weight: np.ndarray
    min_conversions: np.ndarray
    max_conversions: np.ndarray
    first_phase: np.ndarray
    pilot: np.ndarray

    @property
    def n_phases(self) -> int:
        """Number of phases."""
        return len(self.names)

    @classmethod
    def single(cls, budget: float, n_sites: int) -> PhaseRules:
        """One phase with the whole budget: the single-moment plan."""
        return cls(("all",), np.array([float(budget)]), np.array([True]), np.ones(1), np.zeros(1, dtype=np.int64),
                   np.full(1, -1, dtype=np.int64), np.zeros(n_sites, dtype=np.int64), np.zeros(n_sites, dtype=bool))

    def first(self, n: int) -> PhaseRules:
        """The first ``n`` phases (the horizon of a myopic planner in phase ``n``)."""
        return replace(self, names=self.names[:n], budget=self.budget[:n], carry=self.carry[:n],
                       weight=self.weight[:n], min_conversions=self.min_conversions[:n],
                       max_conversions=self.max_conversions[:n])


@dataclass(frozen=True)
class Schedule:
    """When each conversion is done.

    Attributes
    ----------
    site_phase
        Per site, the phase (index) it is converted in; ``-1``: never.
    pair_phase
        (sites × services): the phase each service opens at each site; ``-1``: never.
    """

    site_phase: np.ndarray
    pair_phase: np.ndarray

    @property
    def final(self) -> np.ndarray:
        """Boolean (sites × services): the plan at the end."""
        return np.asarray(self.pair_phase >= 0)

    def hosts(self, t: int) -> np.ndarray:
        """Boolean (sites × services): what is open by the end of phase ``t`` (cumulative)."""
        return np.asarray((self.pair_phase >= 0) & (self.pair_phase <= t))

    def opened(self, t: int) -> np.ndarray:
        """Boolean (sites × services): what phase ``t`` opens."""
        return np.asarray(self.pair_phase == t)


@dataclass(frozen=True)
class PhasedModel:
    """A single-moment model over the phases, and how to read it.

    Attributes
    ----------
    milp
        The time-expanded model (objective zero: stages pick theirs from ``objectives``).
    base_blocks
        Column blocks of one phase (``x``, ``y``, ``z``...), as slices of ``n_base`` columns.
    n_base
        Columns per phase.
    phases
        The phases the model spans.
    x_site, x_service
        Site and service of each ``x`` column of one phase.
    n_sites, n_services
        Sizes of the assignment.
    objectives
        Stage name → objective over every column: the stage's value per phase times the
        phase's coverage-years, summed.
    per_phase
        Stage name → objective of one phase's columns (unweighted), to read each phase's value.
    base
        The single-moment model it expands.
    """

    milp: MilpModel
    base_blocks: dict[str, slice]
    n_base: int
    phases: PhaseRules
    x_site: np.ndarray
    x_service: np.ndarray
    n_sites: int
    n_services: int
    objectives: dict[str, np.ndarray] = field(default_factory=dict)
    per_phase: dict[str, np.ndarray] = field(default_factory=dict)
    base: MilpModel | None = None

    @property
    def n_phases(self) -> int:
        """Number of phases."""
        return self.phases.n_phases

    def block(self, name: str, t: int) -> slice:
        """Columns of block ``name`` in phase ``t``."""
        b = self.base_blocks[name]
        return slice(t * self.n_base + b.start, t * self.n_base + b.stop)

    def phase_columns(self, t: int) -> slice:
        """Every column of phase ``t``."""
        return slice(t * self.n_base, (t + 1) * self.n_base)

    def schedule(self, solution: np.ndarray) -> Schedule:
        """When each site is converted and each service opens, read from a solution."""
        T = self.n_phases
        pair = np.full((self.n_sites, self.n_services), -1, dtype=np.int64)
        site = np.full(self.n_sites, -1, dtype=np.int64)
        for t in range(T - 1, -1, -1):  # phases, not data: the earliest phase wins
            on = solution[self.block("x", t)] > 0.5
            pair[self.x_site[on], self.x_service[on]] = t
            site[solution[self.block("y", t)] > 0.5] = t
        return Schedule(site, pair)

    def solution_of(self, schedule: Schedule) -> np.ndarray:
        """The column values of a schedule, for a covering model (columns ``x``, ``y`` and rows ``z ≤ Σ x``).

        Raises
        ------
        ValueError
            For a model with other columns (allocations, presence), whose values a schedule does
            not fix.
        """
        base = self.base
        if base is None or set(self.base_blocks) != {"x", "y", "z"} or "cover" not in base.row_blocks:
            raise ValueError("solution_of reads covering models only (columns x, y, z)")
        cover = -base.A[base.row_blocks["cover"]][:, self.base_blocks["x"]]
        out = np.zeros(self.milp.n_cols)
        pair = schedule.pair_phase[self.x_site, self.x_service]
        for t in range(self.n_phases):  # phases, not data
            x = ((pair >= 0) & (pair <= t)).astype(float)
            out[self.block("x", t)] = x
            out[self.block("y", t)] = ((schedule.site_phase >= 0) & (schedule.site_phase <= t)).astype(float)
            out[self.block("z", t)] = np.minimum(np.asarray(cover @ x).ravel(), 1.0)
        return out

    def stage_values(self, name: str, solution: np.ndarray) -> np.ndarray:
        """The value of stage ``name`` in each phase (unweighted)."""
        c = self.per_phase[name]
        return np.array([float(c @ solution[self.phase_columns(t)]) for t in range(self.n_phases)])


def _place(rows: RuleRows, index: dict[str, np.ndarray], n_cols: int) -> sparse.csr_matrix:
    """A row block over per-phase blocks (``x`` = T × K columns...) placed on the model's columns."""
    mats = []
    for block, part in rows.parts.items():
        coo = part.tocoo()
        mats.append(sparse.csr_matrix((coo.data, (coo.row, index[block][coo.col])), shape=(rows.n_rows, n_cols)))
    out: sparse.csr_matrix = sum(mats[1:], mats[0]).tocsr()
    return out


def expand_over_phases(base: MilpModel, phases: PhaseRules, *, x_site: np.ndarray, x_service: np.ndarray,
                       n_sites: int, n_services: int, x_cost: np.ndarray, y_cost: np.ndarray,
                       objectives: dict[str, np.ndarray], ends_plan: bool = True) -> PhasedModel:
    """The model of the module docstring from a single-moment model.

    Parameters
    ----------
    base
        A single-moment model with column blocks ``x`` and ``y`` and a row block ``budget``
        (its other rows hold in every phase, but those of :data:`FINAL_ONLY`).
    phases
        The phases.
    x_site, x_service, n_sites, n_services
        Site and service of each ``x`` column; sizes of the assignment.
    x_cost, y_cost
        Cost of each ``x`` column on top of its site's conversion, and of each site's
        conversion (the coefficients of the single budget row).
    objectives
        Stage name → objective over one phase's columns.
    ends_plan
        The last phase is the plan's last: the requirements that hold by the end (sites per
        service, floors, forced sites) apply to it. ``False`` for a myopic planner's horizon.
    """
    T, n = phases.n_phases, base.n_cols
    blocks = base.col_blocks
    xs, ys = blocks["x"], blocks["y"]
    K, m = xs.stop - xs.start, ys.stop - ys.start
    N = T * n
    offsets = np.arange(T)[:, None] * n
    index = {"x": (offsets + xs.start + np.arange(K)[None, :]).ravel(),
             "y": (offsets + ys.start + np.arange(m)[None, :]).ravel()}
    keep, final = np.ones(base.n_rows, dtype=bool), np.zeros(base.n_rows, dtype=bool)
    for name, rows in base.row_blocks.items():
        if name == "budget":
            keep[rows] = False
        elif name in FINAL_ONLY:
            keep[rows] = False
            final[rows] = ends_plan
    A = base.A.tocsr()
    per = A[keep]
    mats = [sparse.block_diag([per] * T, format="csr")]
    lower = [np.tile(base.row_lower[keep], T)]
    upper = [np.tile(base.row_upper[keep], T)]
    row_blocks = {"phase": slice(0, per.shape[0] * T)}

    def add(name: str, mat: sparse.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> None:
        r0 = sum(x.shape[0] for x in mats)
        mats.append(sparse.csr_matrix(mat))
        lower.append(np.asarray(lo, dtype=float))
        upper.append(np.asarray(hi, dtype=float))
        row_blocks[name] = slice(r0, r0 + mat.shape[0])

    if final.any():
        fin = A[final]
        add("final", sparse.hstack([sparse.csr_matrix((fin.shape[0], (T - 1) * n)), fin], format="csr"),
            base.row_lower[final], base.row_upper[final])
    budget = define_phased_budget(x_cost, y_cost, phases.budget, phases.carry)
    add("budget", _place(budget, index, N), budget.lower, budget.upper)
    if T > 1:  # a conversion stays: u_t - u_{t+1} <= 0 for x and y
        order = []
        for block, size in (("x", K), ("y", m)):
            idx = index[block].reshape(T, size)
            r = np.arange((T - 1) * size)
            order.append(sparse.csr_matrix((np.concatenate([np.ones(r.size), -np.ones(r.size)]),
                                            (np.concatenate([r, r]), np.concatenate([idx[:-1].ravel(),
                                                                                     idx[1:].ravel()]))),
                                           shape=(r.size, N)))
        mat = sparse.vstack(order, format="csr")
        add("order", mat, np.full(mat.shape[0], -np.inf), np.zeros(mat.shape[0]))
    limited = np.flatnonzero((phases.min_conversions > 0) | (phases.max_conversions >= 0))
    if limited.size:  # opened in t = Σ_k x_{k,t} - Σ_k x_{k,t-1}
        idx = index["x"].reshape(T, K)
        r_idx, c_idx, vals = [], [], []
        for i, t in enumerate(limited):  # phases, not data
            r_idx += [np.full(K, i)]
            c_idx += [idx[t]]
            vals += [np.ones(K)]
            if t > 0:
                r_idx += [np.full(K, i)]
                c_idx += [idx[t - 1]]
                vals += [-np.ones(K)]
        mat = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))),
                                shape=(limited.size, N))
        add("conversions", mat, phases.min_conversions[limited].astype(float),
            np.where(phases.max_conversions[limited] >= 0, phases.max_conversions[limited], np.inf))
    col_lower = np.tile(base.col_lower, T)
    col_upper = np.tile(base.col_upper, T)
    y_idx = index["y"].reshape(T, m)
    forced = base.col_lower[ys] > 0.5
    col_lower[y_idx[:-1]] = 0.0  # forced sites: converted by the end, in whichever phase
    col_lower[y_idx[-1]] = np.where(forced & ends_plan, 1.0, 0.0)
    col_lower[y_idx] = np.maximum(col_lower[y_idx], phases.pilot[None, :].astype(float))
    too_early = np.arange(T)[:, None] < phases.first_phase[None, :]
    col_upper[y_idx[too_early]] = 0.0
    implied = np.tile(base.implied_integer, T) if base.implied_integer is not None else None
    milp = MilpModel(name=f"{base.name}, {T} phases", sense=base.sense, objective=np.zeros(N),
                     A=sparse.vstack(mats, format="csr"), row_lower=np.concatenate(lower),
                     row_upper=np.concatenate(upper), col_lower=col_lower, col_upper=col_upper,
                     integer=np.tile(base.integer, T), col_blocks={"x": xs, "y": ys}, row_blocks=row_blocks,
                     implied_integer=implied)
    weighted = {name: np.concatenate([w * np.asarray(c, dtype=float) for w in phases.weight])
                for name, c in objectives.items()}
    return PhasedModel(milp, dict(blocks), n, phases, np.asarray(x_site), np.asarray(x_service), n_sites, n_services,
                       weighted, {k: np.asarray(v, dtype=float) for k, v in objectives.items()}, base)


@dataclass(frozen=True)
class PhasedProblem:
    """A single-moment model and what its expansion over phases needs.

    Attributes
    ----------
    base
        The single-moment model (objective unused).
    x_site, x_service, n_sites, n_services
        Site and service of each ``x`` column; sizes of the assignment.
    x_cost, y_cost
        Cost of each ``x`` column on top of its site's conversion, and of each site's conversion.
    objectives
        Stage name → objective over one phase's columns, in stage order.
    main
        The stage whose value, bound and gap are the plan's.
    stats
        Sizes of the single-moment model.
    residents
        Coverage rows × coverage pairs: residents behind each ``z`` column (models that count
        residents served within capacity), else ``None``.
    capacity_limited
        Per coverage pair: its service has places (a capacity norm); ``None`` as ``residents``.
    """

    base: MilpModel
    x_site: np.ndarray
    x_service: np.ndarray
    n_sites: int
    n_services: int
    x_cost: np.ndarray
    y_cost: np.ndarray
    objectives: dict[str, np.ndarray]
    main: str
    stats: dict[str, int] = field(default_factory=dict)
    residents: sparse.csr_matrix | None = None
    capacity_limited: np.ndarray | None = None

    def model(self, phases: PhaseRules, *, ends_plan: bool = True) -> PhasedModel:
        """The model over these phases (:func:`expand_over_phases`)."""
        return expand_over_phases(self.base, phases, x_site=self.x_site, x_service=self.x_service,
                                  n_sites=self.n_sites, n_services=self.n_services, x_cost=self.x_cost,
                                  y_cost=self.y_cost, objectives=self.objectives, ends_plan=ends_plan)


def fix_columns(milp: MilpModel, values: np.ndarray, columns: slice) -> MilpModel:
    """The model with some columns fixed to given values (earlier phases of a myopic plan)."""
    lo, hi = milp.col_lower.copy(), milp.col_upper.copy()
    v = np.asarray(values, dtype=float)
    lo[columns] = np.where(milp.integer[columns], np.round(v), v)
    hi[columns] = lo[columns]
    return replace(milp, col_lower=lo, col_upper=hi)


def schedule_violation(schedule: Schedule, phases: PhaseRules) -> str:
    """Why a schedule breaks the phase rules of this module ('' when it keeps them): pilots, first phases
    and conversions per phase (the budget and the plan rules: :func:`siting.model.rules.phased_violation`)."""
    site, pair = schedule.site_phase, schedule.pair_phase
    late = np.flatnonzero(phases.pilot & (site != 0))
    if late.size:
        return f"pilot site {int(late[0])} is not converted in the first phase"
    early = np.flatnonzero((site >= 0) & (site < phases.first_phase))
    if early.size:
        j = int(early[0])
        return f"site {j} is converted in phase {site[j]}, before its first phase {phases.first_phase[j]}"
    opened = np.bincount(pair[pair >= 0], minlength=phases.n_phases)[:phases.n_phases]
    for t in range(phases.n_phases):  # phases, not data
        hi = phases.max_conversions[t]
        if opened[t] < phases.min_conversions[t] or (hi >= 0 and opened[t] > hi):
            return f"phase {phases.names[t]} opens {opened[t]} conversions, outside [{phases.min_conversions[t]}, " \
                   f"{'∞' if hi < 0 else hi}]"
    return ""


__all__ = ["FINAL_ONLY", "PhaseRules", "PhasedModel", "PhasedProblem", "Schedule", "expand_over_phases", "fix_columns",
           "schedule_violation"]
