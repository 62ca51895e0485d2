"""The classic facility-location models on a cost matrix, through siting's own optimizer.

For a Python user who has demand points, candidate sites and the cost (walking metres,
minutes, any distance) between them, without a scenario file. Each model has a matrix form
(``cost`` is demand × site, a NumPy array or anything ``numpy.asarray`` takes) and a
GeoDataFrame form (``*_from_geodataframe``: straight-line distances in a metric CRS, or the
walking metres along a :class:`~siting.walking.network.WalkingNetwork`). Every function returns
a :class:`LocateResult` with the solver's status, the objective, the proven bound and the gap.

:func:`mclp` — maximal covering (Church & ReVelle 1974), budgeted::

    maximise    Σ_i w_i z_i
    subject to  z_i ≤ Σ_{j : c_ij ≤ S} x_j        every demand point i
                Σ_j x_j ≤ p                        (when p is given)
                Σ_j k_j x_j ≤ B                    (when a budget is given; k = site costs)
                x_j = 1 (forced)
                x ∈ {0, 1},  0 ≤ z ≤ 1

solved by :func:`siting.optimizer.covering.optimize_covering` (merged rows, greedy and local
search, the pattern model, Benders or kernel search by size).

:func:`lscp` — location set covering (Toregas et al. 1971)::

    minimise    Σ_j k_j x_j                        (k = 1: the number of sites)
    subject to  Σ_{j : c_ij ≤ S} x_j ≥ 1           every demand point some site can reach
                x ∈ {0, 1}

Demand points no site reaches within ``S`` cannot be covered; they are reported in
``uncoverable`` and left out of the rows (spopt raises instead).

:func:`p_median` — the p-median (Hakimi 1964) in the radius formulation (García, Labbé &
Marín 2011; :mod:`siting.model.median`)::

    minimise    Σ_i w_i min_{j open} c_ij
    subject to  Σ_j x_j = p,  x ∈ {0, 1}

solved by :func:`siting.optimizer.radius.optimize_walking` (greedy and fast interchange, the
radius formulation's LP bound by Benders cuts, reduced-cost fixing, then branch and Benders cut).

Ties and order: sites are chosen deterministically (one solver thread, fixed seed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.errors import DataError
from siting.model.milp import MilpModel, Sense
from siting.model.rules import PlanningRules, SiteData
from siting.optimizer.covering import optimize_covering
from siting.optimizer.deadline import Deadline
from siting.optimizer.radius import optimize_walking
from siting.solvers import SolveOptions, solve
from siting.solvers.base import Status, relative_gap
from siting.walking import Reach
from siting.walking.distances import WalkDistances

if TYPE_CHECKING:
    import geopandas as gpd

    from siting.walking.network import WalkingNetwork


@dataclass(frozen=True)
class LocateResult:
    """The answer of a location model.

    Attributes
    ----------
    model
        ``mclp``, ``lscp`` or ``p_median``.
    status
        How the solve ended (``optimal`` within ``mip_gap`` of the bound, ``time_limit``,
        ``infeasible``, ``error``...).
    objective
        Covered weight (mclp), number or cost of sites (lscp), weighted total cost (p_median).
    bound
        The best proven bound: no solution beats it (upper for mclp, lower for the others).
    gap
        Relative gap between objective and bound.
    chosen
        The chosen sites: column indices, or the ``site_ids`` given.
    covered
        Per demand point: covered (mclp, lscp); ``None`` for the p-median.
    assignment
        Per demand point: the column of its nearest chosen site (p_median); ``None`` otherwise.
    uncoverable
        Demand points no site reaches (lscp, mclp): no solution can cover them.
    seconds
        Wall-clock time of the whole call.
    message
        The solver's account, in words.
    """

    model: str
    status: Status
    objective: float
    bound: float
    gap: float
    chosen: np.ndarray
    covered: np.ndarray | None = None
    assignment: np.ndarray | None = None
    uncoverable: np.ndarray | None = None
    seconds: float = 0.0
    message: str = ""


def _cost_matrix(cost: Any) -> np.ndarray:
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise DataError(f"cost: expected a demand × site matrix with at least one row and column, got shape "
                        f"{c.shape}")
    if np.isnan(c).any():
        raise DataError("cost: the matrix holds NaN; give every pair a cost (np.inf where no path exists)")
    if (c < 0).any():
        raise DataError("cost: costs must be zero or positive")
    return c


def _vector(values: Any, n: int, what: str, *, default: float = 1.0) -> np.ndarray:
    if values is None:
        return np.full(n, default)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size != n:
        raise DataError(f"{what}: expected {n} values (one per {'demand point' if what == 'weights' else 'site'}), "
                        f"got {v.size}")
    if not np.isfinite(v).all() or (v < 0).any():
        raise DataError(f"{what}: values must be finite and zero or positive")
    return v


def _chosen(columns: np.ndarray, site_ids: Sequence[Any] | None) -> np.ndarray:
    if site_ids is None:
        return columns.astype(np.int64)
    ids = np.asarray(list(site_ids), dtype=object)
    return np.asarray(ids[columns])


def _forced(forced: Sequence[int] | None, m: int) -> np.ndarray:
    mask = np.zeros(m, dtype=bool)
    if forced is not None:
        idx = np.asarray(list(forced), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= m):
            raise DataError(f"forced: site indices must lie in 0..{m - 1}")
        mask[idx] = True
    return mask


def _options(time_limit_s: float, mip_gap: float) -> SolveOptions:
    return SolveOptions(time_limit_s=time_limit_s, mip_gap=mip_gap, threads=1, seed=0)


def _reach(cost: np.ndarray, radius: float) -> Reach:
    o, d = np.nonzero(cost <= radius)
    return Reach(o.astype(np.int64), d.astype(np.int64), cost[o, d], cost.shape, float(radius))


def mclp(cost: Any, weights: Any = None, *, radius: float, p: int | None = None, budget: float | None = None,
         site_costs: Any = None, forced: Sequence[int] | None = None, site_ids: Sequence[Any] | None = None,
         time_limit_s: float = 60.0, mip_gap: float = 0.0) -> LocateResult:
    """Maximal covering: the most demand weight within ``radius`` of ``p`` sites (or of a budget).

    Parameters
    ----------
    cost
        Demand × site costs (metres, minutes...).
    weights
        Demand weights (default 1 each).
    radius
        A demand point is covered by a site whose cost is at most this.
    p
        At most this many sites (``None``: no limit on the number).
    budget
        At most this total of ``site_costs`` (``None``: no budget).
    site_costs
        Cost of each site, for ``budget`` (default 0).
    forced
        Column indices of sites that must be chosen.
    site_ids
        Names of the sites, returned in ``chosen`` instead of column indices.
    time_limit_s, mip_gap
        Solver limits (the relative gap 0 asks for a proven optimum).

    Returns
    -------
    LocateResult
        ``objective`` is the covered weight; ``bound`` a proven upper bound.
    """
    t0 = time.perf_counter()
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _vector(weights, n, "weights")
    if p is None and budget is None:
        raise DataError("mclp: give p (the number of sites) or a budget, or both")
    if p is not None and p < 0:
        raise DataError(f"mclp: p must be zero or more, got {p}")
    k = _vector(site_costs, m, "site_costs", default=0.0)
    reach = _reach(c, radius)
    coverage = Coverage(service_keys=("service",), group_keys=("demand",), pairs=((0, 0),),
                        reach=(reach.within(radius),), baseline=(np.zeros(n, dtype=bool),),
                        population=w[:, None], limit_m=(float(radius),))
    sites = SiteData(floor_area=np.ones(m), retrofit_cost=k, allowed=np.ones((m, 1), dtype=bool))
    rules = PlanningRules(budget=math.inf if budget is None else float(budget), service_area=np.zeros(1),
                          service_fitout=np.zeros(1), service_weight=np.ones(1), group_weight=np.ones(1),
                          min_sites=np.zeros(1, dtype=np.int64),
                          max_sites=np.array([-1 if p is None else p], dtype=np.int64),
                          force_in=_forced(forced, m), force_out=np.zeros(m, dtype=bool))
    solution = optimize_covering(coverage, sites, rules, options=_options(time_limit_s, mip_gap))
    r = solution.result
    open_ = solution.hosts[:, 0] | rules.force_in
    covered = np.asarray(coverage.reach[0] @ open_.astype(np.float64) > 0.5).ravel()
    uncoverable = np.flatnonzero(np.asarray(coverage.reach[0].getnnz(axis=1)) == 0)
    objective = float(w[covered].sum())
    return LocateResult("mclp", r.status, objective, float(r.bound), relative_gap(objective, float(r.bound)),
                        _chosen(np.flatnonzero(open_), site_ids), covered=covered, uncoverable=uncoverable,
                        seconds=time.perf_counter() - t0, message=r.message)


def lscp_model(reach: sparse.csr_matrix, site_costs: np.ndarray, forced: np.ndarray) -> tuple[MilpModel, np.ndarray]:
    """The location set covering MILP (module docstring) over the demand points some site reaches.

    Returns
    -------
    milp, rows
        The model (columns: one per site) and the demand points behind its rows.
    """
    rows = np.flatnonzero(np.asarray(reach.getnnz(axis=1)) > 0)
    A = reach[rows].astype(np.float64).tocsr()
    m = reach.shape[1]
    milp = MilpModel(name="location set covering", sense=Sense.MINIMIZE, objective=site_costs.astype(float),
                     A=A, row_lower=np.ones(rows.size), row_upper=np.full(rows.size, np.inf),
                     col_lower=forced.astype(float), col_upper=np.ones(m), integer=np.ones(m, dtype=bool),
                     col_blocks={"x": slice(0, m)}, row_blocks={"cover": slice(0, rows.size)})
    return milp, rows


def lscp(cost: Any, *, radius: float, site_costs: Any = None, forced: Sequence[int] | None = None,
         site_ids: Sequence[Any] | None = None, time_limit_s: float = 60.0, mip_gap: float = 0.0) -> LocateResult:
    """Location set covering: the fewest sites (or the cheapest) covering every demand point that can be.

    Parameters
    ----------
    cost
        Demand × site costs.
    radius
        A demand point is covered by a site whose cost is at most this.
    site_costs
        Cost of each site (default 1: the number of sites is minimised).
    forced, site_ids, time_limit_s, mip_gap
        As in :func:`mclp`.

    Returns
    -------
    LocateResult
        ``objective`` is the number (or cost) of sites; ``uncoverable`` the demand points no
        site reaches, left out.
    """
    t0 = time.perf_counter()
    c = _cost_matrix(cost)
    n, m = c.shape
    k = _vector(site_costs, m, "site_costs")
    force = _forced(forced, m)
    reach = _reach(c, radius).within(radius)
    milp, rows = lscp_model(reach, k, force)
    uncoverable = np.setdiff1d(np.arange(n), rows)
    r = solve(milp, "highs", _options(time_limit_s, mip_gap))
    if r.solution is None:
        return LocateResult("lscp", r.status, math.nan, float(r.bound), math.inf, _chosen(np.zeros(0, np.int64),
                            site_ids), uncoverable=uncoverable, seconds=time.perf_counter() - t0, message=r.message)
    x = r.solution > 0.5
    covered = np.asarray(reach @ x.astype(np.float64) > 0.5).ravel()
    return LocateResult("lscp", r.status, float(r.objective), float(r.bound), float(r.gap),
                        _chosen(np.flatnonzero(x), site_ids), covered=covered, uncoverable=uncoverable,
                        seconds=time.perf_counter() - t0, message=r.message)


def p_median(cost: Any, weights: Any = None, *, p: int, forced: Sequence[int] | None = None,
             site_ids: Sequence[Any] | None = None, time_limit_s: float = 60.0,
             mip_gap: float = 0.0) -> LocateResult:
    """The p-median: ``p`` sites minimising the weighted cost of every demand point to its nearest one.

    Parameters
    ----------
    cost
        Demand × site costs; ``np.inf`` where a site cannot serve a point.
    weights
        Demand weights (default 1 each).
    p
        Exactly this many sites.
    forced, site_ids, time_limit_s, mip_gap
        As in :func:`mclp`.

    Returns
    -------
    LocateResult
        ``objective`` is Σ weight × cost to the nearest chosen site; ``bound`` a proven lower
        bound; ``assignment`` each point's site column.
    """
    t0 = time.perf_counter()
    c = _cost_matrix(cost)
    n, m = c.shape
    w = _vector(weights, n, "weights")
    if not 1 <= p <= m:
        raise DataError(f"p_median: p must lie between 1 and the number of sites ({m}), got {p}")
    finite = np.isfinite(c)
    if not finite.any(axis=1).all():
        bad = np.flatnonzero(~finite.any(axis=1))
        raise DataError(f"p_median: demand point(s) {bad[:10].tolist()} have no finite cost to any site")
    # every pair recorded, below a cutoff beyond the largest cost: no walk is cut
    cutoff = float(c[finite].max()) * 2.0 + 1.0
    o, d = np.nonzero(finite)
    sites_reach = Reach(o.astype(np.int64), d.astype(np.int64), c[o, d], (n, m), cutoff)
    empty = np.zeros(0, dtype=np.int64)
    distances = WalkDistances(sites_reach, Reach(empty, empty, np.zeros(0), (n, 0), cutoff), empty)
    coverage = Coverage(service_keys=("service",), group_keys=("demand",), pairs=((0, 0),),
                        reach=(sparse.csr_matrix((n, m), dtype=bool),), baseline=(np.zeros(n, dtype=bool),),
                        population=w[:, None], limit_m=(0.0,))
    sites = SiteData(floor_area=np.ones(m), retrofit_cost=np.zeros(m), allowed=np.ones((m, 1), dtype=bool))
    force = _forced(forced, m)
    rules = PlanningRules(budget=math.inf, service_area=np.zeros(1), service_fitout=np.zeros(1),
                          service_weight=np.ones(1), group_weight=np.ones(1),
                          min_sites=np.array([p], dtype=np.int64), max_sites=np.array([p], dtype=np.int64),
                          force_in=force, force_out=np.zeros(m, dtype=bool))
    run = optimize_walking(coverage, distances, w[:, None], sites, rules, _options(time_limit_s, mip_gap),
                           deadline=Deadline(time_limit_s, t0))
    r = run.search.result("radius formulation: greedy, swaps, cutting planes, branch and Benders cut")
    if run.search.best is None:
        return LocateResult("p_median", r.status, math.nan, float(r.bound), math.inf,
                            _chosen(np.zeros(0, np.int64), site_ids), seconds=time.perf_counter() - t0,
                            message=r.message)
    open_ = run.search.best[:, 0]
    cols = np.flatnonzero(open_)
    sub = c[:, cols]
    assignment = cols[np.argmin(sub, axis=1)]
    objective = float(w @ sub.min(axis=1))
    bound = float(r.bound)
    return LocateResult("p_median", r.status, objective, bound, relative_gap(objective, bound),
                        _chosen(cols, site_ids), assignment=assignment, seconds=time.perf_counter() - t0,
                        message=r.message)


def distances_between(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *,
                      network: WalkingNetwork | None = None, cutoff_m: float | None = None) -> np.ndarray:
    """Demand × site metres between two GeoDataFrames (points, or the centroids of polygons).

    Straight-line distances in the demand's CRS (which must be projected, in metres), or, with
    a ``network`` (in the same CRS), walking metres along it up to ``cutoff_m`` (``inf``
    beyond), as ``siting run`` measures them.
    """
    if demand.crs is None or sites.crs is None:
        raise DataError("from_geodataframe: both GeoDataFrames need a CRS; set one with .set_crs(...)")
    if not demand.crs.is_projected:
        raise DataError(f"from_geodataframe: the demand's CRS ({demand.crs.to_string()}) is not in metres; "
                        f"project both first, e.g. demand.to_crs(demand.estimate_utm_crs())")
    sites = sites.to_crs(demand.crs)
    a = np.column_stack([demand.geometry.centroid.x, demand.geometry.centroid.y])
    b = np.column_stack([sites.geometry.centroid.x, sites.geometry.centroid.y])
    if network is None:
        diff = a[:, None, :] - b[None, :, :]
        return np.asarray(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)))
    from siting.walking.paths import network_reach

    if cutoff_m is None:
        raise DataError("from_geodataframe: walking along a network needs cutoff_m (the longest walk to measure)")
    reach, _, _ = network_reach(network, a, b, cutoff_m=cutoff_m)
    out = np.full(reach.shape, np.inf)
    out[reach.origin, reach.destination] = reach.metres
    return out


def _weights_of(demand: gpd.GeoDataFrame, weight_col: str | None) -> np.ndarray | None:
    if weight_col is None:
        return None
    if weight_col not in demand.columns:
        raise DataError(f"from_geodataframe: the demand has no column '{weight_col}'; columns: "
                        f"{list(demand.columns)}")
    return np.asarray(demand[weight_col], dtype=np.float64)


def _ids_of(sites: gpd.GeoDataFrame, id_col: str | None) -> list[Any] | None:
    if id_col is None:
        return None
    if id_col not in sites.columns:
        raise DataError(f"from_geodataframe: the sites have no column '{id_col}'; columns: {list(sites.columns)}")
    return list(sites[id_col])


def mclp_from_geodataframe(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *, weight_col: str | None = None,
                           id_col: str | None = None, radius: float, network: WalkingNetwork | None = None,
                           **kwargs: Any) -> LocateResult:
    """:func:`mclp` on two GeoDataFrames: distances computed, then the matrix model (same answer)."""
    cost = distances_between(demand, sites, network=network, cutoff_m=radius)
    return mclp(cost, _weights_of(demand, weight_col), radius=radius, site_ids=_ids_of(sites, id_col), **kwargs)


def lscp_from_geodataframe(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *, id_col: str | None = None,
                           radius: float, network: WalkingNetwork | None = None, **kwargs: Any) -> LocateResult:
    """:func:`lscp` on two GeoDataFrames."""
    cost = distances_between(demand, sites, network=network, cutoff_m=radius)
    return lscp(cost, radius=radius, site_ids=_ids_of(sites, id_col), **kwargs)


def p_median_from_geodataframe(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *, weight_col: str | None = None,
                               id_col: str | None = None, p: int, network: WalkingNetwork | None = None,
                               cutoff_m: float | None = None, **kwargs: Any) -> LocateResult:
    """:func:`p_median` on two GeoDataFrames (along a network: walks up to ``cutoff_m``)."""
    cost = distances_between(demand, sites, network=network, cutoff_m=cutoff_m)
    return p_median(cost, _weights_of(demand, weight_col), p=p, site_ids=_ids_of(sites, id_col), **kwargs)


__all__ = ["LocateResult", "distances_between", "lscp", "lscp_from_geodataframe", "lscp_model", "mclp",
           "mclp_from_geodataframe", "p_median", "p_median_from_geodataframe"]
