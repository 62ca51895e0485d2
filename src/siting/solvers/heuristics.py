"""Greedy and local search for budgeted multi-service covering: fast plans without a proof.

Both work on a :class:`~siting.model.instance.CoveringInstance` with arrays only: the gain of
every column (weight of the uncovered rows it reaches) is kept up to date incrementally —
when rows become covered, their weight is subtracted from the columns that reach them with
one sparse product — so a greedy step costs the rows it covers, not the whole matrix.

- :func:`greedy` adds, at each step, the move with the best gain per yuan: open a closed site
  with the best subset of its services that fits its floor area (its retrofit cost counts
  once, for the whole subset), or add one more service to an open site.
- :func:`local_search` closes one site and opens the best bundle elsewhere (or re-bundles the
  same site), evaluated exactly, then refills the freed budget greedily; it stops at a local
  optimum or at the deadline. The plan it returns is never worse than the one it was given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from siting.model.instance import CoveringInstance

MAX_SUBSET_SERVICES = 12  # services per site enumerated as subsets (2^12 bundles per site at most)


class _Tables:
    """Static lookups of an instance: columns by site and service, bundles (subsets of services)."""

    def __init__(self, inst: CoveringInstance) -> None:
        self.inst = inst
        m, S, K = inst.n_sites, inst.n_services, inst.n_cols
        self.R = inst.cover.astype(np.float64).tocsr()
        self.Rc = self.R.tocsc()
        self.col_of = np.full((m, S), -1, dtype=np.int64)
        self.col_of[inst.x_site, inst.x_service] = np.arange(K)
        self.usable = self.col_of >= 0
        self.x_area = inst.x_area
        self.x_fit = inst.x_fitout
        bits = 1 << np.arange(S, dtype=np.int64)
        self.site_bits = (self.usable * bits[None, :]).sum(axis=1)
        self.enumerate = S <= MAX_SUBSET_SERVICES
        if self.enumerate:
            sub = np.arange(1, 1 << S, dtype=np.int64)
            self.sub_bits = sub
            self.members = ((sub[:, None] & bits[None, :]) > 0)  # subsets × services
            self.sub_area = self.members @ inst.service_area
            self.sub_fit = self.members @ inst.service_fitout


@dataclass
class _State:
    """A plan being built: chosen columns, how often each row is covered, spending."""

    x: np.ndarray  # bool, columns
    cnt: np.ndarray  # int, rows: number of chosen columns reaching the row
    open: np.ndarray  # bool, sites converted
    area_used: np.ndarray  # per site
    count: np.ndarray  # chosen columns per service
    cost: float
    gain: np.ndarray  # per column: weight of uncovered rows it reaches

    def copy(self) -> _State:
        return _State(self.x.copy(), self.cnt.copy(), self.open.copy(), self.area_used.copy(),
                      self.count.copy(), self.cost, self.gain.copy())


def _initial_state(t: _Tables, x0: np.ndarray | None = None) -> _State:
    inst = t.inst
    x = np.zeros(inst.n_cols, dtype=bool) if x0 is None else np.asarray(x0) > 0.5
    cnt = (t.R @ x.astype(np.float64)).round().astype(np.int64)
    open_ = inst.force_in.copy()
    open_[inst.x_site[x]] = True
    area = np.bincount(inst.x_site[x], weights=t.x_area[x], minlength=inst.n_sites)
    count = np.bincount(inst.x_service[x], minlength=inst.n_services)
    cost = float(inst.site_cost[open_].sum() + t.x_fit[x].sum())
    gain = t.Rc.T @ (inst.weight * (cnt == 0))
    return _State(x, cnt, open_, area, count, cost, gain)


def _add(t: _Tables, st: _State, cols: np.ndarray) -> None:
    """Add columns to the plan, opening their site if closed; gains updated incrementally."""
    inst = t.inst
    cols = cols[~st.x[cols]]
    if cols.size == 0:
        return
    st.x[cols] = True
    newly_open = np.unique(inst.x_site[cols][~st.open[inst.x_site[cols]]])
    st.open[newly_open] = True
    st.cost += float(inst.site_cost[newly_open].sum() + t.x_fit[cols].sum())
    np.add.at(st.area_used, inst.x_site[cols], t.x_area[cols])
    np.add.at(st.count, inst.x_service[cols], 1)
    sub = t.Rc[:, cols]
    rows = sub.indices
    before = st.cnt[rows] == 0
    np.add.at(st.cnt, rows, 1)
    covered = np.unique(rows[before])
    if covered.size:
        st.gain -= t.R[covered].T @ inst.weight[covered]


def _remove_site(t: _Tables, st: _State, j: int) -> None:
    """Close a site: drop its columns (the retrofit cost is refunded unless it is forced in)."""
    inst = t.inst
    cols = t.col_of[j][t.col_of[j] >= 0]
    cols = cols[st.x[cols]]
    st.x[cols] = False
    if not inst.force_in[j]:
        st.open[j] = False
        st.cost -= float(inst.site_cost[j])
    st.cost -= float(t.x_fit[cols].sum())
    st.area_used[j] = 0.0
    np.add.at(st.count, inst.x_service[cols], -1)
    rows = t.Rc[:, cols].indices
    np.add.at(st.cnt, rows, -1)
    freed = np.unique(rows[st.cnt[rows] == 0])
    if freed.size:
        st.gain += t.R[freed].T @ inst.weight[freed]


def _uncovered_if_closed(t: _Tables, st: _State, j: int) -> np.ndarray:
    """Rows only site ``j`` covers (they become uncovered when it closes)."""
    cols = t.col_of[j][t.col_of[j] >= 0]
    cols = cols[st.x[cols]]
    rows = t.Rc[:, cols].indices
    return np.unique(rows[st.cnt[rows] == 1])


def _best_bundles(t: _Tables, st: _State, gain: np.ndarray, left: float,
                  sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best subset of services to open at each of ``sites`` (closed), by gain per yuan.

    Returns, per site: its gain, its cost (retrofit + fit-out) and the chosen columns' subset
    index (−1 when nothing fits).
    """
    inst = t.inst
    S = inst.n_services
    full = (inst.max_sites >= 0) & (st.count >= inst.max_sites)
    G = np.where(t.usable[sites], gain[np.maximum(t.col_of[sites], 0)], 0.0)
    G[:, full] = 0.0
    if not t.enumerate:  # too many services to enumerate: one best service per site
        best_s = np.argmax(G, axis=1)
        g = G[np.arange(sites.size), best_s]
        cost = inst.site_cost[sites] + inst.service_fitout[best_s]
        ok = (g > 0) & (cost <= left + 1e-6) & t.usable[sites, best_s]
        return np.where(ok, g, 0.0), cost, np.where(ok, best_s, -1)
    full_bits = int((full * (1 << np.arange(S))).sum())
    SG = G @ t.members.T.astype(np.float64)  # sites × subsets
    cost = inst.site_cost[sites][:, None] + t.sub_fit[None, :]
    ok = (((t.sub_bits[None, :] & ~t.site_bits[sites][:, None]) == 0)
          & ((t.sub_bits & full_bits) == 0)[None, :]
          & (t.sub_area[None, :] <= inst.site_area[sites][:, None] + 1e-9)
          & (cost <= left + 1e-6) & (SG > 0))
    ratio = np.where(ok, SG / (cost + 1e-9 * max(inst.budget, 1.0)), -1.0)
    k = np.argmax(ratio, axis=1)
    r = np.arange(sites.size)
    has = ratio[r, k] > 0
    return np.where(has, SG[r, k], 0.0), cost[r, k], np.where(has, k, -1)


def _bundle_columns(t: _Tables, site: int, subset: int) -> np.ndarray:
    """Columns of a bundle: subset index (from :func:`_best_bundles`) at a site."""
    if not t.enumerate:
        return np.array([t.col_of[site, subset]])
    services = np.flatnonzero(t.members[subset])
    return np.asarray(t.col_of[site, services])


def _fill(t: _Tables, st: _State, deadline: float) -> None:
    """Greedy: add the best gain-per-yuan move until nothing with a positive gain fits."""
    inst = t.inst
    eps = 1e-9 * max(inst.budget, 1.0)
    while time.perf_counter() < deadline:
        left = inst.budget - st.cost
        # one more service at an open site
        full = (inst.max_sites >= 0) & (st.count >= inst.max_sites)
        ok = (st.open[inst.x_site] & ~st.x & (st.gain > 0) & ~full[inst.x_service]
              & (t.x_fit <= left + 1e-6)
              & (st.area_used[inst.x_site] + t.x_area <= inst.site_area[inst.x_site] + 1e-9))
        r_col = np.where(ok, st.gain / (t.x_fit + eps), -1.0)
        k = int(np.argmax(r_col)) if r_col.size else -1
        best_col = r_col[k] if k >= 0 else -1.0
        # open a closed site with its best bundle
        closed = np.flatnonzero(~st.open & t.usable.any(axis=1) & (inst.site_cost <= left + 1e-6))
        best_site, best_site_ratio, sub = -1, -1.0, -1
        if closed.size:
            g, cost, subs = _best_bundles(t, st, st.gain, left, closed)
            ratio = np.where(subs >= 0, g / (cost + eps), -1.0)
            i = int(np.argmax(ratio))
            best_site, best_site_ratio, sub = int(closed[i]), float(ratio[i]), int(subs[i])
        if best_col <= 0 and best_site_ratio <= 0:
            return
        if best_col >= best_site_ratio:
            _add(t, st, np.array([k]))
        else:
            _add(t, st, _bundle_columns(t, best_site, sub))


def _meet_minimums(t: _Tables, st: _State) -> bool:
    """Add the best columns of every service below its minimum number of sites; False if impossible."""
    inst = t.inst
    eps = 1e-9 * max(inst.budget, 1.0)
    for s in np.flatnonzero(inst.min_sites > 0):
        while st.count[s] < inst.min_sites[s]:
            left = inst.budget - st.cost
            cols = np.flatnonzero((inst.x_service == s) & ~st.x)
            extra = np.where(st.open[inst.x_site[cols]], 0.0, inst.site_cost[inst.x_site[cols]]) + t.x_fit[cols]
            fits = ((extra <= left + 1e-6)
                    & (st.area_used[inst.x_site[cols]] + t.x_area[cols] <= inst.site_area[inst.x_site[cols]] + 1e-9))
            if not fits.any():
                return False
            ratio = np.where(fits, (st.gain[cols] + eps) / (extra + eps), -1.0)
            _add(t, st, cols[[int(np.argmax(ratio))]])
    return True


def greedy(instance: CoveringInstance, *, time_limit_s: float = 60.0) -> np.ndarray | None:
    """A feasible plan by gain per yuan (see the module docstring).

    Parameters
    ----------
    instance
        The covering instance.
    time_limit_s
        Stop adding after this many seconds (the plan stays feasible).

    Returns
    -------
    numpy.ndarray or None
        0/1 column vector, or ``None`` when the minimum numbers of sites cannot be met greedily
        within the budget.
    """
    deadline = time.perf_counter() + time_limit_s
    t = _Tables(instance)
    st = _initial_state(t)
    if not _meet_minimums(t, st):
        return None
    _fill(t, st, deadline)
    return st.x.astype(np.float64)


def local_search(instance: CoveringInstance, x: np.ndarray, *, time_limit_s: float = 30.0,
                 candidates: int = 4) -> np.ndarray:
    """Improve a feasible plan by closing one site and opening the best bundle elsewhere.

    Every open site (not forced in) is tried: the rows only it covers are its loss; the best
    bundle at any closed site (itself included) with the freed budget is evaluated exactly.
    The ``candidates`` best moves are then tried with a greedy refill of the remaining budget,
    and the first that improves the plan is kept. Repeats until no move improves or the
    deadline passes.

    Parameters
    ----------
    instance
        The covering instance.
    x
        A feasible 0/1 column vector.
    time_limit_s
        Seconds to spend.
    candidates
        Moves tried with a refill per round.

    Returns
    -------
    numpy.ndarray
        A plan at least as good as ``x``.
    """
    deadline = time.perf_counter() + time_limit_s
    inst = instance
    t = _Tables(inst)
    st = _initial_state(t, x)
    _fill(t, st, deadline)
    value = inst.value(st.x)
    tol = 1e-9 * max(abs(value), 1.0)
    w = inst.weight
    while time.perf_counter() < deadline:
        moves: list[tuple[float, int, int, int]] = []  # (estimated change, close j, open i, subset)
        for j in np.flatnonzero(st.open & ~inst.force_in).tolist():
            if time.perf_counter() >= deadline:
                break
            U = _uncovered_if_closed(t, st, j)
            loss = float(w[U].sum())
            gain = st.gain + t.R[U].T @ w[U] if U.size else st.gain
            cols_j = t.col_of[j][t.col_of[j] >= 0]
            left = inst.budget - st.cost + inst.site_cost[j] + float(t.x_fit[cols_j[st.x[cols_j]]].sum())
            closed = np.flatnonzero((~st.open | (np.arange(inst.n_sites) == j)) & t.usable.any(axis=1)
                                    & (inst.site_cost <= left + 1e-6))
            if closed.size == 0:
                continue
            count_j = np.bincount(inst.x_service[cols_j[st.x[cols_j]]], minlength=inst.n_services)
            st.count -= count_j  # bundles may use the services j gives up
            g, _cost, subs = _best_bundles(t, st, gain, left, closed)
            st.count += count_j
            i = int(np.argmax(g))
            if subs[i] >= 0:
                moves.append((float(g[i]) - loss, int(j), int(closed[i]), int(subs[i])))
        if not moves:
            break
        moves.sort(key=lambda mv: (-mv[0], mv[1], mv[2]))
        improved = False
        for est, j, i, sub in moves[:candidates]:
            if est < -0.05 * max(value, 1.0):
                break
            trial = st.copy()
            _remove_site(t, trial, j)
            _add(t, trial, _bundle_columns(t, i, sub))
            if (trial.count < inst.min_sites).any():
                continue
            _fill(t, trial, deadline)
            v = inst.value(trial.x)
            if v > value + tol:
                st, value, improved = trial, v, True
                break
        if not improved:
            break
    return st.x.astype(np.float64)


def column_gains(instance: CoveringInstance, x: np.ndarray) -> np.ndarray:
    """Per column: weight of the rows it would newly cover given the plan ``x``."""
    cnt = instance.cover.astype(np.float64) @ (np.asarray(x) > 0.5).astype(np.float64)
    return np.asarray(instance.cover.T.astype(np.float64) @ (instance.weight * (cnt < 0.5)))


__all__ = ["column_gains", "greedy", "local_search"]

