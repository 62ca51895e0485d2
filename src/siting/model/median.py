"""Multi-service p-median: which sites host which services so that residents walk the least.

Per service, residents walk to the nearest open facility of that service — a new one the plan
places or an existing one. The classic single-service p-median (every point assigned, ``p``
sites) is :mod:`benchmarks.pmedian`; here the services share the site rules of
:mod:`siting.model.structure` (floor area, budget, sites per service, forced sites), only the
pairs within the walking cutoff are recorded, and a walk beyond the cutoff counts as the
cutoff ``D`` (see :mod:`siting.walking.distances`).

For a demand point ``i`` and service ``s`` let ``f_is = min(nearest existing facility of s, D)``
be its walk without new facilities and ``W_is`` its weighted minutes per metre (residents ×
weights / speed, summed over the age groups ``s`` serves). Only the allowed (site, service)
pairs ``k`` nearer than ``f_is`` matter; sorted by distance they give levels
``D_1 < D_2 < … < D_q < D_(q+1) = f_is``, and the walk is
``f_is − Σ_l (D_(l+1) − D_l) · [some pair within D_l is open]``. This is the radius
formulation of the p-median (Cornuéjols, Nemhauser & Wolsey 1980; García, Labbé & Marín,
INFORMS J. Computing 2011): the same LP bound as the assignment formulation
(``v_ij ≤ x_j``, ``Σ_j v_ij ≤ 1``), but a level is a *set* of pairs, and the levels of
different demand points with the same set merge into one row with their savings added up —
on the Jiangbei scenario 19,195 recorded pairs become 1,583 rows. Each level ``r`` is linked
to the previous level of the same demand point ``pred(r)`` (a chain, so the number of
nonzeros stays linear in the recorded pairs)::

    minimise    Σ_is W_is f_is  −  Σ_r c_r u_r                             weighted walking minutes
    subject to  u_r ≤ u_pred(r) + Σ_{k ∈ new(r)} x_k   for every level r   (walk)
                site rules (link, area, budget, count: min_s ≤ Σ_j x_(j,s) ≤ max_s, or = p_s)
                x, y ∈ {0, 1},  0 ≤ u ≤ 1

``c_r`` sums ``W_is (D_(l+1) − D_l)`` over the merged levels, ``new(r)`` are the pairs the level
adds to its predecessor (all of its pairs for a first level, with ``u_pred`` absent). By
induction ``u_r ≤ min(1, Σ_{k within the level} x_k)``, with equality at the optimum (``c > 0``),
so ``u`` is implied integer.

With ``keep_coverage`` the model becomes the second stage of the walking-time tie-breaker:
the coverage rows ``z`` of :func:`siting.model.structure.cover_rows` are added with::

                z_r ≤ Σ_{k ∈ N(r)} x_k            for every coverage row r              (cover)
                Σ_r w_r z_r ≥ C − tol             weighted new coverage kept            (keep)
                share_f ≥ floor_f                 for every floor f (optional)          (floor)
                0 ≤ z ≤ 1

so that, among the plans that cover at least ``C`` (the first stage's coverage), the one with
the least walking is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.milp import MilpModel, Sense
from siting.model.rules import PlanningRules, SiteData, site_bounds
from siting.model.structure import (
    Assembler,
    CoverRows,
    ShareTarget,
    SiteColumns,
    add_site_rules,
    cover_rows,
    share_terms,
    site_columns,
    weighted_row_values,
)
from siting.walking.distances import WalkDistances

_HASH_SEED = 20240611


@dataclass(frozen=True)
class WalkLevels:
    """The merged walking levels behind the ``u`` columns, and how to evaluate them for a plan.

    Attributes
    ----------
    new
        csr (levels × pairs): the (site, service) pairs each level adds to its predecessor.
    pred
        Predecessor level of each level, ``-1`` for a first level.
    saving
        Weighted minutes saved when the level is reached (``c_r``, positive).
    offset
        ``Σ W_is f_is``: the weighted minutes without any new facility.
    entry_pair, entry_group_start, level_entry
        The recorded (demand point, service, pair) entries sorted by distance within each
        (demand point, service): the pair of each entry, the first entry of its group, and the
        last entry of one level merged into each row (to evaluate ``u`` for a plan).
    n_entries, n_levels_before_merge
        Sizes, for the stats.
    """

    new: sparse.csr_matrix
    pred: np.ndarray
    saving: np.ndarray
    offset: float
    entry_pair: np.ndarray
    entry_group_start: np.ndarray
    level_entry: np.ndarray
    n_entries: int
    n_levels_before_merge: int

    @property
    def n_levels(self) -> int:
        """Number of (merged) levels."""
        return int(self.saving.size)

    def reached(self, x: np.ndarray) -> np.ndarray:
        """``u`` for the pair values ``x``: 1 where some pair of the level is open, capped at 1."""
        cum = np.cumsum(x[self.entry_pair])
        before = np.where(self.entry_group_start > 0, cum[np.maximum(self.entry_group_start - 1, 0)], 0.0)
        out: np.ndarray = np.minimum(cum - before, 1.0)[self.level_entry]
        return out


def _entries(cols: SiteColumns, distances: WalkDistances, weights: np.ndarray,
             fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Recorded pairs worth a level: an allowed pair nearer than the fallback walk, with weight.

    Returns the group key (service × demand points + demand point), the pair, the metres, the
    weight ``W`` and the fallback ``f`` of each entry, sorted by group, metres, then pair.
    """
    S = cols.n_services
    reach = distances.sites
    n = distances.n_demand
    order = _by_origin_then_metres(reach.origin, reach.destination, reach.metres)
    origin, dest, dist = reach.origin[order], reach.destination[order], reach.metres[order]
    keys, pairs, metres = [], [], []
    for s in range(S):  # services are few; each step is vectorised over the recorded pairs
        col_of = np.full(cols.n_sites, -1, dtype=np.int64)
        col_of[cols.x_site[cols.x_start[s]:cols.x_start[s + 1]]] = np.arange(cols.x_start[s], cols.x_start[s + 1])
        k = col_of[dest]
        keep = (k >= 0) & (weights[origin, s] > 0) & (dist < fallback[origin, s])
        keys.append(s * n + origin[keep])  # service-major, then point, then metres: already in group order
        pairs.append(k[keep])
        metres.append(dist[keep])
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    k = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
    d = np.concatenate(metres) if metres else np.zeros(0)
    service, point = np.divmod(key, max(n, 1))
    return key, k, d, weights[point, service], fallback[point, service]


def _by_origin_then_metres(origin: np.ndarray, destination: np.ndarray, metres: np.ndarray) -> np.ndarray:
    """The order of recorded walks by origin, then metres, then destination (equal walks in site order)."""
    if origin.size == 0:
        return np.zeros(0, dtype=np.int64)
    o = origin.astype(np.int64)
    d = destination.astype(np.int64)
    by_od = bool(np.all((o[1:] > o[:-1]) | ((o[1:] == o[:-1]) & (d[1:] > d[:-1]))))
    if not by_od:
        return np.lexsort((d, metres, o))
    span = float(np.max(metres)) + 1.0
    # sorted by (origin, destination) already: one stable sort on origin × span + metres keeps ties in site order
    out: np.ndarray = np.argsort(o * span + metres, kind="stable")
    exact = np.all(np.diff(o[out]) >= 0) and np.all((np.diff(o[out]) > 0) | (np.diff(metres[out]) >= 0))
    return out if exact else np.lexsort((d, metres, o))


@dataclass(frozen=True)
class WalkEntries:
    """The recorded walks worth a level, by customer — a (demand point, service) with walks to shorten.

    Attributes
    ----------
    customer, column, metres
        Per entry, sorted by customer then metres: the customer ``0 .. C-1``, the (site,
        service) column walked to, the metres.
    weight, fallback, point, service
        Per customer: weighted minutes per metre ``W``, the walk without new facilities ``f``
        (nearest existing facility, or the cutoff), its demand point and service.
    constant
        ``Σ W f`` over the (demand point, service) pairs no allowed pair can bring nearer.
    """

    customer: np.ndarray
    column: np.ndarray
    metres: np.ndarray
    weight: np.ndarray
    fallback: np.ndarray
    point: np.ndarray
    service: np.ndarray
    constant: float

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.weight.size)

    def walking(self, x: np.ndarray) -> float:
        """Weighted walking minutes of a 0/1 column vector (every customer to its nearest open column)."""
        near = self.fallback.copy()
        on = np.asarray(x)[self.column] > 0.5
        np.minimum.at(near, self.customer[on], self.metres[on])
        return float(self.constant + self.weight @ near)


def walk_entries(cols: SiteColumns, distances: WalkDistances, weights: np.ndarray) -> WalkEntries:
    """The walks of the radius formulation by customer (for bounds and heuristics without the model).

    Parameters
    ----------
    cols
        The allowed (site, service) pairs.
    distances
        Walking metres below the cutoff.
    weights
        ``W`` (demand points × services): weighted minutes per metre.
    """
    S = cols.n_services
    fallback = np.minimum(distances.nearest_existing(S), distances.cutoff_m)
    total = float((weights * fallback).sum())
    key, k, d, w, f = _entries(cols, distances, weights, fallback)
    first = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    customer = np.cumsum(first) - 1
    ckey = key[first]
    service, point = np.divmod(ckey, max(distances.n_demand, 1))
    cw, cf = w[first], f[first]
    return WalkEntries(customer.astype(np.int64), k.astype(np.int64), d.astype(float), cw, cf,
                       point.astype(np.int64), service.astype(np.int64), total - float(cw @ cf))


def walk_levels(cols: SiteColumns, distances: WalkDistances, weights: np.ndarray) -> WalkLevels:
    """The merged levels of the radius formulation (see the module docstring).

    Parameters
    ----------
    cols
        The allowed (site, service) pairs.
    distances
        Walking metres below the cutoff.
    weights
        ``W`` (demand points × services): weighted minutes per metre.
    """
    S, K = cols.n_services, cols.n_pairs
    fallback = np.minimum(distances.nearest_existing(S), distances.cutoff_m)
    offset = float((weights * fallback).sum())
    key, k, d, w, f = _entries(cols, distances, weights, fallback)
    n = int(key.size)
    start = np.r_[True, key[1:] != key[:-1]] if n else np.zeros(0, dtype=bool)
    last = np.r_[key[1:] != key[:-1], True] if n else np.zeros(0, dtype=bool)
    gid = np.cumsum(start) - 1
    gstart = np.flatnonzero(start)[gid] if n else np.zeros(0, dtype=np.int64)
    nxt = np.where(last, f, np.r_[d[1:], 0.0] if n else d)
    c = w * (nxt - d)
    lv = np.flatnonzero(c > 0)  # the end of each run of equal distances
    prev = np.r_[-1, lv[:-1]] if lv.size else lv
    prev = np.where((prev >= 0) & (gid[np.maximum(prev, 0)] == gid[lv]), prev, -1)
    # the set of pairs within a level, hashed exactly (sums of random 64-bit words, wrapping)
    rng = np.random.default_rng(_HASH_SEED)
    H = rng.integers(0, 2**63, size=(K, 2), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    cum = np.cumsum(H[k], axis=0, dtype=np.uint64)
    base = np.where((gstart > 0)[:, None], cum[np.maximum(gstart - 1, 0)], np.uint64(0))
    prefix = cum - base
    size = (np.arange(n) - gstart + 1).astype(np.uint64)
    first, inverse = _same_sets(prefix[lv], size[lv])
    n_rows = int(first.size)
    saving = np.bincount(inverse, weights=c[lv], minlength=n_rows)
    rep, rep_prev = lv[first], prev[first]
    level_of_entry = np.full(n, -1, dtype=np.int64)
    level_of_entry[lv] = inverse
    pred = np.where(rep_prev >= 0, level_of_entry[np.maximum(rep_prev, 0)], -1)
    lo = np.where(rep_prev >= 0, rep_prev + 1, gstart[rep])
    lens = rep - lo + 1
    rows = np.repeat(np.arange(n_rows), lens)
    within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    new = sparse.csr_matrix((np.ones(rows.size), (rows, k[np.repeat(lo, lens) + within])), shape=(n_rows, K))
    return WalkLevels(new, pred.astype(np.int64), saving, offset, k, gstart, rep, n, int(lv.size))


def _same_sets(prefix: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group levels with the same (hash, hash, size): one representative each, and each level's group.

    One sort of a mixed 64-bit key; the full key is then checked, and a mismatch (not seen in
    practice) falls back to sorting the full key.
    """
    mixed = prefix[:, 0] + size * np.uint64(0x9E3779B97F4A7C15)  # wraps modulo 2**64
    _, first, inverse = np.unique(mixed, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rep = first[inverse]
    if not (np.array_equal(prefix[rep], prefix) and np.array_equal(size[rep], size)):
        _, first, inverse = np.unique(np.column_stack([prefix, size]), axis=0, return_index=True,
                                      return_inverse=True)
        inverse = inverse.ravel()
    return first, inverse


@dataclass(frozen=True)
class MedianModel:
    """A built walking-time model and how to read it.

    Attributes
    ----------
    milp
        The matrix model (minimise weighted walking minutes).
    cols
        The (site, service) pairs behind the ``x`` columns.
    levels
        The walking levels behind the ``u`` columns.
    rows
        The coverage rows behind the ``z`` columns (tie-breaker only).
    stats
        Model sizes.
    """

    milp: MilpModel
    cols: SiteColumns
    levels: WalkLevels
    rows: CoverRows | None = None
    stats: dict[str, int] = field(default_factory=dict)

    def hosts(self, solution: np.ndarray) -> np.ndarray:
        """Boolean (sites × services) assignment read from a solution vector."""
        return self.cols.hosts(solution[self.milp.col_blocks["x"]])

    def solution_from_hosts(self, hosts: np.ndarray, force_in: np.ndarray) -> np.ndarray:
        """A full solution vector for a plan (a warm start)."""
        milp, cols = self.milp, self.cols
        out = np.zeros(milp.n_cols)
        x = hosts[cols.x_site, cols.x_service].astype(float)
        out[milp.col_blocks["x"]] = x
        y = force_in.astype(float)
        np.maximum.at(y, cols.x_site, x)
        out[milp.col_blocks["y"]] = y
        out[milp.col_blocks["u"]] = self.levels.reached(x)
        if self.rows is not None:
            out[milp.col_blocks["z"]] = np.minimum(self.rows.R @ x, 1.0)
        return out


def build_median_model(coverage: Coverage, distances: WalkDistances, weights: np.ndarray, sites: SiteData,
                       rules: PlanningRules, *, keep_coverage: float | None = None,
                       floors: list[ShareTarget] | None = None) -> MedianModel:
    """Build the multi-service p-median, or the tie-breaker's second stage (see the module docstring).

    Parameters
    ----------
    coverage
        Coverage matrices (for the coverage rows of the tie-breaker).
    distances
        Walking metres below the cutoff.
    weights
        ``W`` (demand points × services): weighted minutes per metre (see
        :func:`siting.walking.distances.walk_weights`).
    sites, rules
        Candidate sites; budget and requirements (the number of sites per service in
        ``min_sites`` / ``max_sites``).
    keep_coverage
        The weighted new coverage every plan must keep (tie-breaker; ``None`` for the p-median).
    floors
        Minimum covered shares (tie-breaker after coverage with floors).

    Returns
    -------
    MedianModel
        The model; its objective is weighted walking minutes, offset included.
    """
    cols = site_columns(sites, rules)
    levels = walk_levels(cols, distances, weights)
    K, m, nu = cols.n_pairs, cols.n_sites, levels.n_levels
    asm = Assembler()
    asm.columns("x", K)
    asm.columns("y", m)
    asm.columns("u", nu)
    has_pred = np.flatnonzero(levels.pred >= 0)
    chain = sparse.identity(nu, format="csr") - sparse.csr_matrix(
        (np.ones(has_pred.size), (has_pred, levels.pred[has_pred])), shape=(nu, nu))
    asm.add("walk", {"u": chain, "x": -levels.new}, -np.inf, 0.0)
    add_site_rules(asm, cols, sites, rules)
    rows = None
    implied: tuple[str, ...] = ("u",)
    if keep_coverage is not None:
        rows = cover_rows(coverage, cols)
        nz = rows.n_rows
        asm.columns("z", nz)
        implied = ("u", "z")
        asm.add("cover", {"z": sparse.identity(nz, format="csr"), "x": -rows.R}, -np.inf, 0.0)
        w = weighted_row_values(coverage, rules, rows)
        tol = 1e-6 + 1e-9 * abs(keep_coverage)
        asm.add("keep", {"z": sparse.csr_matrix(w[None, :])}, keep_coverage - tol, np.inf)
        if floors:
            coef, base, total = share_terms(rows, floors)
            need = np.array([f.share for f in floors]) * total - base
            asm.add("floor", {"z": coef}, need - 1e-6 * np.maximum(total, 1.0), np.inf)
    y_lo, y_hi = site_bounds(rules)
    milp = asm.build("walking time (p-median)" if keep_coverage is None else "walking time at kept coverage",
                     Sense.MINIMIZE, {"u": -levels.saving}, integer=("x", "y"), col_lower={"y": y_lo},
                     col_upper={"y": y_hi}, implied_integer=implied, offset=levels.offset)
    stats = {"assignments": K, "sites": m, "walk_pairs": levels.n_entries,
             "walk_levels_before_merge": levels.n_levels_before_merge, "walk_levels": nu,
             "coverage_rows": rows.n_rows if rows is not None else 0, "rows": milp.n_rows,
             "nonzeros": int(milp.A.nnz)}
    return MedianModel(milp, cols, levels, rows, stats)
