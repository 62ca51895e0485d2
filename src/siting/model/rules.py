"""The plan rules, in one place: what every plan must respect, whatever it optimises.

Every formulation decides which allowed (site, service) pairs ``x_k`` are chosen and which
sites ``y_j`` are converted, under the same rules. This module states them once, as arrays
and sparse row blocks (in the spirit of PyPSA's ``define_*`` functions: one block each, data
passed explicitly), and every formulation (:mod:`~siting.model.covering`,
:mod:`~siting.model.patterns`, :mod:`~siting.model.structure` and the models built on it)
assembles its rows from them; the heuristics check their plans with :func:`plan_violation`::

    x_k ≤ y_j(k)                          a service needs its site converted      define_link
    Σ_{k at j} a_s(k) x_k ≤ F_j y_j        services fit the site's floor area      define_area
    x_k ≤ Σ_{S∋k} λ_S, Σ_S λ_S ≤ y_j       ... as sets that fit (relaxations only)  patterns.define_site_packing
    Σ_j c_j y_j + Σ_k f_k x_k ≤ B          conversion once per site + per service  define_budget
    min_s ≤ Σ_{k of s} x_k ≤ max_s         sites per service                       define_site_counts
    y_j = 1 (forced in), y_j = 0 (forced out)                                      site_bounds

A plan in phases (:mod:`siting.model.phases`) has one copy of ``x`` and ``y`` per phase ``t``,
cumulative (``x_{k,t} = 1``: done by the end of phase ``t``), and one budget row per phase in
place of the single one::

    Σ_j c_j (y_{j,t} - y_{j,s-1}) + Σ_k f_k (x_{k,t} - x_{k,s-1}) ≤ Σ_{τ=s..t} B_τ     define_phased_budget

where ``s = s(t)`` is the first phase whose money can still be spent in ``t`` (unspent money
carries over from phase to phase until a phase that does not carry it; ``y_{j,-1} = 0``):
what phases ``s..t`` spend together stays within their budgets together. Without carry-over
``s(t) = t`` and each phase spends within its own budget; with carry-over throughout, the
spending up to ``t`` stays within the money given up to ``t``. :func:`phased_violation` checks
a schedule against the same rows.

``c_j`` is what converting site ``j`` costs once (its whole retrofit, or the fixed part of it)
and ``f_k`` what column ``k`` adds (:func:`column_costs`): the service's fit-out plus, where the
ledger prices the conversion per m², the floor area the service takes at that price — so a
large building may be converted in part and pays for the area it uses. Which pairs exist at
all (:func:`usable_pairs`): the site allows the service, the service fits its floor area, the
site is not forced out and — when a budget applies — the site and the service are affordable
alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from siting.data.district import Sites

#: Relative and absolute slack when comparing costs and areas with their limits.
REL_TOL = 1e-9
ABS_TOL = 1e-6


@dataclass(frozen=True)
class PlanningRules:
    """The limits and weights of one planning question, as arrays.

    Attributes
    ----------
    budget
        Total budget in yuan.
    service_area
        Floor area each service needs (m²), per service.
    service_fitout
        Fit-out cost of each service (yuan), per service.
    service_weight, group_weight
        Objective weights per service and per age group.
    min_sites, max_sites
        Number of new sites per service: at least / at most (``max_sites`` < 0 means no limit).
    force_in, force_out
        Per site: must / must not be converted.
    """

    budget: float
    service_area: np.ndarray
    service_fitout: np.ndarray
    service_weight: np.ndarray
    group_weight: np.ndarray
    min_sites: np.ndarray
    max_sites: np.ndarray
    force_in: np.ndarray
    force_out: np.ndarray


@dataclass(frozen=True)
class SiteData:
    """What the model needs of the candidate sites.

    Attributes
    ----------
    floor_area
        Usable floor area of each site (m²).
    retrofit_cost
        Cost of converting each site paid once if it hosts anything: the whole conversion, or
        its fixed part (yuan).
    allowed
        Boolean (sites × services): the ledger allows the service at the site.
    cost_per_m2
        Cost per m² of floor area converted, on top of ``retrofit_cost`` (``None``: none).
    """

    floor_area: np.ndarray
    retrofit_cost: np.ndarray
    allowed: np.ndarray
    cost_per_m2: np.ndarray | None = None

    @classmethod
    def of(cls, sites: Sites) -> SiteData:
        """The model's view of the ledger's sites."""
        return cls(sites.floor_area, sites.retrofit_cost, sites.allowed, sites.cost_per_m2)

    @property
    def area_cost(self) -> np.ndarray:
        """Cost per m² converted of every site (zeros where the ledger gives one cost)."""
        if self.cost_per_m2 is None:
            return np.zeros(len(self.floor_area))
        return np.asarray(self.cost_per_m2, dtype=float)


@dataclass(frozen=True)
class RuleRows:
    """One block of rows: coefficient matrices per column block, and row bounds.

    Attributes
    ----------
    name
        The block's name (``link``, ``area``, ``budget``, ``count``).
    parts
        Column block name (``x``, ``y``...) → csr matrix (rows × that block's columns).
    lower, upper
        Row bounds.
    """

    name: str
    parts: dict[str, sparse.csr_matrix]
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of rows in the block."""
        return int(self.lower.size)


def pair_costs(sites: SiteData, rules: PlanningRules) -> np.ndarray:
    """(sites × services): what a service adds at a site — its fit-out and its floor area at the site's price."""
    return np.asarray(rules.service_fitout[None, :] + sites.area_cost[:, None] * rules.service_area[None, :],
                      dtype=float)


def column_costs(x_site: np.ndarray, x_service: np.ndarray, sites: SiteData, rules: PlanningRules) -> np.ndarray:
    """The cost ``f_k`` of each (site, service) column on top of its site's conversion (:func:`pair_costs`)."""
    return np.asarray(rules.service_fitout[x_service] + sites.area_cost[x_site] * rules.service_area[x_service],
                      dtype=float)


def usable_pairs(sites: SiteData, rules: PlanningRules, *, budget: bool = True) -> np.ndarray:
    """Boolean (sites × services): the pairs a plan may choose (see the module docstring)."""
    usable = (sites.allowed
              & (rules.service_area[None, :] <= sites.floor_area[:, None] + REL_TOL)
              & ~rules.force_out[:, None])
    if budget:
        usable &= sites.retrofit_cost[:, None] + pair_costs(sites, rules) <= rules.budget + ABS_TOL
    return np.asarray(usable, dtype=bool)


def pair_columns(usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of the usable pairs, grouped by service, sites ascending within a service.

    Returns
    -------
    x_site, x_service, x_start
        Site and service of each column; the columns of service ``s`` are
        ``x_start[s]:x_start[s + 1]``.
    """
    x_service, x_site = np.nonzero(usable.T)
    x_start = np.searchsorted(x_service, np.arange(usable.shape[1] + 1))
    return x_site.astype(np.int64), x_service.astype(np.int64), x_start


def define_link(x_site: np.ndarray, n_sites: int) -> RuleRows:
    """``x_k - y_j(k) ≤ 0``: a service needs its site converted (one row per column)."""
    K = x_site.size
    kk = np.arange(K)
    return RuleRows("link", {"x": sparse.identity(K, format="csr"),
                             "y": sparse.csr_matrix((-np.ones(K), (kk, x_site)), shape=(K, n_sites))},
                    np.full(K, -np.inf), np.zeros(K))


def define_area(x_site: np.ndarray, x_area: np.ndarray, site_area: np.ndarray) -> RuleRows:
    """``Σ_{k at j} a_k x_k - F_j y_j ≤ 0``: the services fit the site's floor area (one row per site)."""
    m, K = site_area.size, x_site.size
    return RuleRows("area", {"x": sparse.csr_matrix((x_area, (x_site, np.arange(K))), shape=(m, K)),
                             "y": -sparse.diags(np.asarray(site_area, dtype=float), format="csr")},
                    np.full(m, -np.inf), np.zeros(m))


def define_budget(x_cost: np.ndarray, y_cost: np.ndarray, budget: float, *, fixed: float = 0.0,
                  y_block: str = "y") -> RuleRows:
    """``Σ_j c_j y_j + Σ_k f_k x_k ≤ B - fixed``: everything the plan pays within the budget.

    Parameters
    ----------
    x_cost
        Cost of each column on top of its site's conversion (the fit-out).
    y_cost
        Cost of each column of the ``y_block`` (a site's retrofit, or the retrofit of a
        pattern's site).
    budget
        The budget.
    fixed
        Cost paid whatever the plan (forced sites the formulation has no column for).
    y_block
        Name of the column block ``y_cost`` belongs to.
    """
    return RuleRows("budget", {"x": sparse.csr_matrix(np.asarray(x_cost, dtype=float)[None, :]),
                               y_block: sparse.csr_matrix(np.asarray(y_cost, dtype=float)[None, :])},
                    np.array([-np.inf]), np.array([float(budget) - fixed]))


def count_limited(min_sites: np.ndarray, max_sites: np.ndarray) -> np.ndarray:
    """Services with a minimum or a maximum number of sites."""
    return np.flatnonzero((min_sites > 0) | (max_sites >= 0))


def define_site_counts(x_service: np.ndarray, min_sites: np.ndarray, max_sites: np.ndarray) -> RuleRows:
    """``min_s ≤ Σ_{k of s} x_k ≤ max_s``, one row per service with a limit (possibly none)."""
    limited = count_limited(min_sites, max_sites)
    sel = np.isin(x_service, limited)
    count = sparse.csr_matrix((np.ones(int(sel.sum())), (np.searchsorted(limited, x_service[sel]),
                                                          np.flatnonzero(sel))), shape=(limited.size, x_service.size))
    return RuleRows("count", {"x": count}, min_sites[limited].astype(float),
                    np.where(max_sites[limited] >= 0, max_sites[limited], np.inf).astype(float))


def site_bounds(rules: PlanningRules) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the ``y`` columns: forced in / forced out."""
    return rules.force_in.astype(float), np.where(rules.force_out, 0.0, 1.0)


def stack_rows(blocks: list[RuleRows], col_sizes: dict[str, int]) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray,
                                                                          dict[str, slice]]:
    """Stack row blocks over named column blocks (in ``col_sizes`` order).

    Returns
    -------
    A, lower, upper, row_blocks
        The matrix, its row bounds and the row range of every block.
    """
    mats, lo, hi, row_blocks, r0 = [], [], [], {}, 0
    for b in blocks:
        n = b.n_rows
        mats.append(sparse.hstack([sparse.csr_matrix(b.parts[c]) if c in b.parts else sparse.csr_matrix((n, size))
                                   for c, size in col_sizes.items()], format="csr"))
        lo.append(b.lower)
        hi.append(b.upper)
        row_blocks[b.name] = slice(r0, r0 + n)
        r0 += n
    n_cols = sum(col_sizes.values())
    A = sparse.vstack(mats, format="csr") if mats else sparse.csr_matrix((0, n_cols))
    return (A, np.concatenate(lo) if lo else np.zeros(0), np.concatenate(hi) if hi else np.zeros(0), row_blocks)


def carry_starts(carry: np.ndarray) -> np.ndarray:
    """For each phase ``t``, the first phase ``s(t)`` whose unspent money can still be spent in ``t``.

    ``carry[t]``: phase ``t`` moves what it leaves unspent to phase ``t + 1``.
    """
    carry = np.asarray(carry, dtype=bool)
    start = np.zeros(carry.size, dtype=np.int64)
    for t in range(1, carry.size):  # phases, not data: a handful
        start[t] = start[t - 1] if carry[t - 1] else t
    return start


def define_phased_budget(x_cost: np.ndarray, y_cost: np.ndarray, budgets: np.ndarray, carry: np.ndarray) -> RuleRows:
    """One budget row per phase over cumulative ``x`` and ``y`` (module docstring).

    Parameters
    ----------
    x_cost, y_cost
        Cost of each ``x`` column on top of its site's conversion, and of each ``y`` column
        (:func:`define_budget`), for one phase.
    budgets
        Money of each phase, yuan.
    carry
        Per phase: its unspent money moves to the next phase.

    Returns
    -------
    RuleRows
        Rows ``budget`` over the blocks ``x`` (``T × K`` columns, phase-major: column
        ``t·K + k`` is ``x_{k,t}``) and ``y`` (``T × m``, likewise).
    """
    budgets = np.asarray(budgets, dtype=float)
    T = budgets.size
    start = carry_starts(carry)
    limit = np.array([budgets[start[t]:t + 1].sum() for t in range(T)])
    parts: dict[str, sparse.csr_matrix] = {}
    for block, cost in (("x", np.asarray(x_cost, dtype=float)), ("y", np.asarray(y_cost, dtype=float))):
        n = cost.size
        rows, cols, vals = [np.repeat(np.arange(T), n)], [(np.arange(T)[:, None] * n + np.arange(n)).ravel()], \
            [np.tile(cost, T)]
        before = np.flatnonzero(start > 0)  # minus what was spent before the carry chain began
        rows.append(np.repeat(before, n))
        cols.append(((start[before] - 1)[:, None] * n + np.arange(n)).ravel())
        vals.append(np.tile(-cost, before.size))
        parts[block] = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                         shape=(T, T * n))
    return RuleRows("budget", parts, np.full(T, -np.inf), limit)


def phase_spending(site_phase: np.ndarray, pair_phase: np.ndarray, site_cost: np.ndarray, pair_cost: np.ndarray,
                   n_phases: int) -> np.ndarray:
    """What each phase spends: the conversions of the sites first converted in it, the services opened in it.

    Parameters
    ----------
    site_phase
        Per site, the phase it is converted in (``-1``: never).
    pair_phase
        (sites × services): the phase each service opens at each site (``-1``: never).
    site_cost, pair_cost
        As in :func:`assignment_cost`.
    n_phases
        Number of phases.
    """
    pair_phase = np.asarray(pair_phase)
    add = np.broadcast_to(np.asarray(pair_cost, dtype=float), pair_phase.shape)
    on = pair_phase >= 0
    spend = np.bincount(pair_phase[on], weights=add[on], minlength=n_phases)
    used = np.asarray(site_phase) >= 0
    spend += np.bincount(np.asarray(site_phase)[used], weights=np.asarray(site_cost, dtype=float)[used],
                         minlength=n_phases)
    return np.asarray(spend[:n_phases], dtype=float)


def phased_budget_violation(spend: np.ndarray, budgets: np.ndarray, carry: np.ndarray,
                            names: tuple[str, ...] | None = None) -> str:
    """Why the spending per phase breaks the rows of :func:`define_phased_budget` ('' when it keeps them)."""
    budgets = np.asarray(budgets, dtype=float)
    start = carry_starts(carry)
    for t in range(budgets.size):
        spent, money = float(spend[start[t]:t + 1].sum()), float(budgets[start[t]:t + 1].sum())
        if spent > money * (1 + REL_TOL) + ABS_TOL:
            name = names[t] if names is not None else str(t)
            what = f"phase {name}" if start[t] == t else \
                f"phases {names[start[t]] if names is not None else start[t]}..{name} (money carried over)"
            return f"{what} spend {spent:,.0f}, more than their budget {money:,.0f}"
    return ""


def phased_violation(site_phase: np.ndarray, pair_phase: np.ndarray, sites: SiteData, rules: PlanningRules,
                     budgets: np.ndarray, carry: np.ndarray) -> str:
    """Why a schedule breaks the plan rules ('' when it keeps them all).

    The final plan keeps the rules of :func:`plan_violation` (the budget aside), every service
    opens no earlier than its site is converted, a forced site is converted, and the spending
    of every phase keeps the rows of :func:`define_phased_budget`.
    """
    site_phase, pair_phase = np.asarray(site_phase), np.asarray(pair_phase)
    final = pair_phase >= 0
    why = plan_violation(final, sites, rules, budget=False)
    if why:
        return why
    early = np.argwhere(final & (pair_phase < np.where(site_phase < 0, np.iinfo(np.int64).max, site_phase)[:, None]))
    if early.size:
        j, s = (int(v) for v in early[0])
        return f"service {s} opens at site {j} in phase {pair_phase[j, s]}, before the site is converted"
    missing = np.flatnonzero(rules.force_in & (site_phase < 0))
    if missing.size:
        return f"site {int(missing[0])} is forced in but never converted"
    spend = phase_spending(site_phase, pair_phase, sites.retrofit_cost, pair_costs(sites, rules),
                           np.asarray(budgets).size)
    return phased_budget_violation(spend, budgets, carry)


def plan_cost(hosts: np.ndarray, sites: SiteData, rules: PlanningRules) -> float:
    """Cost of an assignment (sites × services): conversion of every used or forced site + what each service adds."""
    return assignment_cost(hosts, sites.retrofit_cost, pair_costs(sites, rules), rules.force_in)


def assignment_cost(hosts: np.ndarray, site_cost: np.ndarray, pair_cost: np.ndarray, force_in: np.ndarray) -> float:
    """What :func:`define_budget` charges an assignment.

    Parameters
    ----------
    hosts
        Boolean (sites × services).
    site_cost
        Paid once per used or forced site.
    pair_cost
        What each service adds at each site, (sites × services) or one value per service.
    force_in
        Sites paid for whatever they host.
    """
    hosts = np.asarray(hosts, dtype=bool)
    used = hosts.any(axis=1) | force_in
    add = np.broadcast_to(np.asarray(pair_cost, dtype=float), hosts.shape)
    return float(site_cost[used].sum() + add[hosts].sum())


def rule_violation(hosts: np.ndarray, *, floor_area: np.ndarray, site_cost: np.ndarray, pair_cost: np.ndarray,
                   service_area: np.ndarray, force_in: np.ndarray, budget: float, min_sites: np.ndarray,
                   max_sites: np.ndarray) -> str:
    """Why an assignment (sites × services) breaks the budget, floor-area or count rules ('' when none).

    The rows of :func:`define_budget`, :func:`define_area` and :func:`define_site_counts`,
    checked on a plan (costs as in :func:`assignment_cost`); :func:`plan_violation` adds the
    allowed pairs.
    """
    hosts = np.asarray(hosts, dtype=bool)
    cost = assignment_cost(hosts, site_cost, pair_cost, force_in)
    if cost > budget * (1 + REL_TOL) + ABS_TOL:
        return f"cost {cost:,.0f} exceeds the budget {budget:,.0f}"
    area = hosts.astype(float) @ service_area
    over = np.flatnonzero(area > floor_area * (1 + REL_TOL) + ABS_TOL)
    if over.size:
        return f"site {int(over[0])} hosts {area[over[0]]:g} m² of services in {floor_area[over[0]]:g} m²"
    count = hosts.sum(axis=0)
    low = np.flatnonzero(count < min_sites)
    if low.size:
        return f"service {int(low[0])} has {count[low[0]]} sites, fewer than {min_sites[low[0]]}"
    high = np.flatnonzero((max_sites >= 0) & (count > max_sites))
    if high.size:
        return f"service {int(high[0])} has {count[high[0]]} sites, more than {max_sites[high[0]]}"
    return ""


def plan_violation(hosts: np.ndarray, sites: SiteData, rules: PlanningRules, *, budget: bool = True) -> str:
    """Why an assignment (sites × services) breaks the plan rules ('' when it keeps them all).

    The same rules as the rows above, checked on a plan: allowed pairs, forced-out sites,
    budget (unless ``budget`` is false), floor area, sites per service.
    """
    hosts = np.asarray(hosts, dtype=bool)
    bad = np.argwhere(hosts & ~usable_pairs(sites, rules, budget=False))
    if bad.size:
        j, s = (int(v) for v in bad[0])
        return f"site {j} may not host service {s} (not allowed, too small, or forced out)"
    return rule_violation(hosts, floor_area=sites.floor_area, site_cost=sites.retrofit_cost,
                          pair_cost=pair_costs(sites, rules), service_area=rules.service_area,
                          force_in=rules.force_in, budget=rules.budget if budget else np.inf,
                          min_sites=rules.min_sites, max_sites=rules.max_sites)


def usable_start(start: np.ndarray | None, sites: SiteData, rules: PlanningRules, *,
                 budget: bool = True) -> np.ndarray | None:
    """A start plan restricted to the allowed pairs, or ``None`` when it breaks the plan rules.

    Re-solves start from a plan close to the answer (the ranking's plan without one option, the
    plan before an edit); an edit may have lowered the budget, or a walking-time scenario's numbers
    of sites may rule the plan out: then the optimizer starts from its own plan alone.
    """
    if start is None:
        return None
    hosts = np.asarray(start, dtype=bool) & sites.allowed
    return None if plan_violation(hosts, sites, rules, budget=budget) else hosts


__all__ = [
    "ABS_TOL",
    "REL_TOL",
    "PlanningRules",
    "RuleRows",
    "SiteData",
    "assignment_cost",
    "carry_starts",
    "count_limited",
    "define_area",
    "define_budget",
    "define_link",
    "define_phased_budget",
    "define_site_counts",
    "pair_columns",
    "phase_spending",
    "phased_budget_violation",
    "phased_violation",
    "plan_cost",
    "plan_violation",
    "rule_violation",
    "site_bounds",
    "stack_rows",
    "usable_pairs",
    "usable_start",
]
