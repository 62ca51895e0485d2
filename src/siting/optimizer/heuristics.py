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
from scipy import sparse

from siting.model.instance import CoveringInstance
from siting.model.patterns import fitting_subsets


class _Tables:
    """Static lookups of an instance: columns by site and service, and bundles.

    A bundle is a set of services one site can host together (they fit its floor area). All
    feasible sets are listed when a smaller set can be better than a larger one (fit-out
    costs, or a maximum number of sites per service); otherwise only the maximal ones.
    Bundles are rows of a sparse matrix over columns, so the gain of every bundle is one
    sparse product with the column gains.
    """

    def __init__(self, inst: CoveringInstance) -> None:
        self.inst = inst
        m, S, K = inst.n_sites, inst.n_services, inst.n_cols
        self.R = inst.cover.astype(np.float64).tocsr()
        self.Rc = self.R.tocsc()
        self.col_of = np.full((m, S), -1, dtype=np.int64)
        self.col_of[inst.x_site, inst.x_service] = np.arange(K)
        self.usable = self.col_of >= 0
        self.x_area = inst.x_area
        self.x_fit = inst.x_cost
        site, members = self._bundles()
        b, svc = np.nonzero(members)
        self.bundle_site = site
        self.bundle_members = members
        self.bundles = sparse.csr_matrix((np.ones(b.size), (b, self.col_of[site[b], svc])),
                                         shape=(site.size, K))
        self.bundle_cost = inst.site_cost[site] + (members * inst.pair_cost_matrix()[site]).sum(axis=1)

    def _bundles(self) -> tuple[np.ndarray, np.ndarray]:
        inst = self.inst
        maximal = not ((inst.x_cost > 0).any() or (inst.max_sites >= 0).any())
        found = fitting_subsets(self.usable, inst.site_area, inst.service_area, maximal=maximal)
        if found is None:  # too many services at a site to enumerate: single services
            j, s = np.nonzero(self.usable)
            return j, np.eye(inst.n_services, dtype=bool)[s]
        return found


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
    area = np.bincount(inst.x_site[x], weights=t.x_area[x], minlength=inst.n_sites).astype(np.float64)
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


def _cost_epsilon(inst: CoveringInstance) -> float:
    """A cost too small to matter, added to costs before dividing by them (free sites and services).

    Scaled to the budget; with no budget limit (an infinite budget), to the largest site cost.
    """
    scale = inst.budget if np.isfinite(inst.budget) else float(np.max(inst.site_cost, initial=0.0))
    return 1e-9 * max(scale, 1.0)


def _best_bundle(t: _Tables, st: _State, gain: np.ndarray, left: float, closed: np.ndarray,
                 by_ratio: bool) -> tuple[int, float, float]:
    """The best bundle to open at a closed site: by gain per yuan, or by gain.

    Returns its index (−1 when nothing with a positive gain fits), its gain and its cost.
    """
    inst = t.inst
    full = (inst.max_sites >= 0) & (st.count >= inst.max_sites)
    bg = t.bundles @ gain
    ok = closed[t.bundle_site] & (t.bundle_cost <= left + 1e-6) & (bg > 0)
    if full.any():
        ok &= ~(t.bundle_members & full[None, :]).any(axis=1)
    if not ok.any():
        return -1, 0.0, 0.0
    score = bg / (t.bundle_cost + _cost_epsilon(inst)) if by_ratio else bg
    b = int(np.argmax(np.where(ok, score, -1.0)))
    return b, float(bg[b]), float(t.bundle_cost[b])


def _bundle_columns(t: _Tables, bundle: int) -> np.ndarray:
    """Columns of a bundle."""
    return np.asarray(t.bundles.indices[t.bundles.indptr[bundle]:t.bundles.indptr[bundle + 1]])


def _fill(t: _Tables, st: _State, deadline: float) -> None:
    """Greedy: add the best gain-per-yuan move until nothing with a positive gain fits."""
    inst = t.inst
    eps = _cost_epsilon(inst)
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
        bundle, g, cost = _best_bundle(t, st, st.gain, left, ~st.open, by_ratio=True)
        best_bundle_ratio = g / (cost + eps) if bundle >= 0 else -1.0
        if best_col <= 0 and best_bundle_ratio <= 0:
            return
        if best_col >= best_bundle_ratio:
            _add(t, st, np.array([k]))
        else:
            _add(t, st, _bundle_columns(t, bundle))


def _meet_minimums(t: _Tables, st: _State) -> bool:
    """Add the best columns of every service below its minimum number of sites; False if impossible."""
    inst = t.inst
    eps = _cost_epsilon(inst)
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


def _site_losses(t: _Tables, st: _State) -> tuple[np.ndarray, np.ndarray]:
    """Per site: weight only it covers (lost if it closes) and what closing it refunds."""
    inst = t.inst
    unique = t.Rc.T @ (inst.weight * (st.cnt == 1))
    on = np.flatnonzero(st.x)
    loss = np.bincount(inst.x_site[on], weights=unique[on], minlength=inst.n_sites).astype(np.float64)
    refund = np.bincount(inst.x_site[on], weights=t.x_fit[on], minlength=inst.n_sites).astype(np.float64)
    refund += np.where(st.open & ~inst.force_in, inst.site_cost, 0.0)
    return loss, refund


def _swap_moves(t: _Tables, st: _State, deadline: float) -> list[tuple[float, int, int]]:
    """For every open site: close it and open the best bundle (anywhere, itself included)."""
    inst = t.inst
    w = inst.weight
    moves = []
    for j in np.flatnonzero(st.open & ~inst.force_in).tolist():
        if time.perf_counter() >= deadline:
            break
        U = _uncovered_if_closed(t, st, j)
        loss = float(w[U].sum())
        gain = st.gain + t.R[U].T @ w[U] if U.size else st.gain
        cols_j = t.col_of[j][t.col_of[j] >= 0]
        cols_j = cols_j[st.x[cols_j]]
        left = inst.budget - st.cost + inst.site_cost[j] + float(t.x_fit[cols_j].sum())
        closed = ~st.open
        closed[j] = True
        count_j = np.bincount(inst.x_service[cols_j], minlength=inst.n_services)
        st.count -= count_j  # bundles may use the services j gives up
        bundle, g, _cost = _best_bundle(t, st, gain, left, closed, by_ratio=False)
        st.count += count_j
        if bundle >= 0:
            moves.append((g - loss, j, bundle))
    return moves


def _add_drop_moves(t: _Tables, st: _State, limit: int) -> list[tuple[float, int, int]]:
    """Open a bundle beyond the budget and close the open sites that lose least per yuan refunded.

    The loss of each closed site is taken before the bundle opens (an over-estimate), so the
    estimate errs on the safe side; the best ``limit`` moves are returned.
    """
    inst = t.inst
    loss, refund = _site_losses(t, st)
    droppable = np.flatnonzero(st.open & ~inst.force_in)
    if droppable.size == 0:
        return []
    order = droppable[np.argsort(loss[droppable] / np.maximum(refund[droppable], 1e-9), kind="stable")]
    cum_refund, cum_loss = np.cumsum(refund[order]), np.cumsum(loss[order])
    full = (inst.max_sites >= 0) & (st.count >= inst.max_sites)
    g = t.bundles @ st.gain
    ok = ~st.open[t.bundle_site] & (g > 0)
    if full.any():
        ok &= ~(t.bundle_members & full[None, :]).any(axis=1)
    need = t.bundle_cost - (inst.budget - st.cost)
    k = np.searchsorted(cum_refund, need - 1e-6)
    ok &= k < order.size
    est = np.where(ok, g - cum_loss[np.minimum(k, order.size - 1)], -np.inf)
    best = np.argsort(-est, kind="stable")[:limit]
    return [(float(est[b]), -1, int(b)) for b in best if np.isfinite(est[b])]


def _apply_add_drop(t: _Tables, st: _State, bundle: int) -> None:
    """Open a bundle, then close the sites losing least per yuan until the budget holds."""
    inst = t.inst
    new_site = int(t.bundle_site[bundle])
    _add(t, st, _bundle_columns(t, bundle))
    while st.cost > inst.budget + 1e-6:
        loss, refund = _site_losses(t, st)
        droppable = st.open & ~inst.force_in
        droppable[new_site] = False
        cand = np.flatnonzero(droppable)
        if cand.size == 0:
            return
        j = int(cand[np.argmin(loss[cand] / np.maximum(refund[cand], 1e-9))])
        _remove_site(t, st, j)


def local_search(instance: CoveringInstance, x: np.ndarray, *, time_limit_s: float = 30.0,
                 candidates: int = 4) -> np.ndarray:
    """Improve a feasible plan by moves of whole sites, each followed by a greedy refill.

    Two kinds of move, both estimated for every site with sparse products:

    - *swap*: close an open site and open the best bundle at a closed site (or re-bundle the
      same site); the rows only the closed site covers are its loss, the bundle's gain is
      computed after the closure, exactly;
    - *add-drop*: open a bundle the budget cannot pay for, and close the open sites that lose
      the least coverage per yuan refunded until it can (consolidating several small sites
      into one larger multi-service site, which no single swap reaches).

    The ``candidates`` best moves of each kind are applied in turn with a greedy refill of the
    remaining budget, and the first that improves the plan is kept. Repeats until no move
    improves or the deadline passes.

    Parameters
    ----------
    instance
        The covering instance.
    x
        A feasible 0/1 column vector.
    time_limit_s
        Seconds to spend.
    candidates
        Moves of each kind tried with a refill per round.

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
    while time.perf_counter() < deadline:
        swaps = sorted(_swap_moves(t, st, deadline), key=lambda mv: (-mv[0], mv[1], mv[2]))[:candidates]
        adds = _add_drop_moves(t, st, candidates)
        moves = sorted(swaps + adds, key=lambda mv: -mv[0])
        improved = False
        for est, j, bundle in moves:
            if est < -0.05 * max(value, 1.0) or time.perf_counter() >= deadline:
                break
            trial = st.copy()
            if j >= 0:
                _remove_site(t, trial, j)
                _add(t, trial, _bundle_columns(t, bundle))
            else:
                _apply_add_drop(t, trial, bundle)
            if (trial.count < inst.min_sites).any() or trial.cost > inst.budget + 1e-6:
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

