"""Branch and bound over the cutting planes' master LP (branch and Benders cut).

When the objective's value is a sum over few customers (one ``θ`` each, see
:mod:`siting.optimizer.cutting`), the master LP with its cuts *is* the LP relaxation of the
whole problem, found in a fraction of the time the whole LP takes (the radius formulation of
the p-median: about 1.5 s against more than 45 s for HiGHS's own root LP on OR-Library pmed36).
This module branches on it, as the Benders decompositions of the p-median do (Duran-Mateluna,
Alès & Elloumi, EJOR 2023): each node is the master LP with some plan columns fixed, solved by
the same cutting planes (cuts are valid everywhere, so every node's cuts serve all the others);

* **best bound first, with plunging**: after a branching the node goes on into its "open"
  child at once (the LP's basis is still loaded), the "closed" child waits in the queue with a
  copy of the basis it starts from;
* **pruning**: a node whose bound is within the gap of the best plan is dropped; the cutting
  planes stop as soon as a node's bound reaches that cutoff;
* **reduced-cost fixing at every node**: a column whose reduced cost lifts the node's bound
  past the best plan stays at its bound below the node;
* **integral nodes**: a node whose LP point is integral holds no better plan than that point
  (up to the cutting planes' tolerance, a tenth of the gap); the point is evaluated exactly
  (``value_of``), which may improve the best plan.

The bound reported is the least of the open nodes' bounds, the best plan's value and the LP
bounds of the integral nodes let go (when no node is left open, the best plan is proven within
the gap).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siting.optimizer.cutting import CuttingPlanes, reduced_cost_fixing

#: A plan column counts as integral within this distance of 0 or 1.
INTEGRAL = 1e-6
#: Relative agreement of a node's LP bound and the value at its point at which its cutting planes stop
#: (at most a tenth of the gap asked for): an integral node is let go at that agreement, and the
#: tree's bound keeps its LP bound, so that the bound reported is exactly what was proven.
NODE_TOLERANCE = 1e-6
#: Seconds between two progress lines.
SAY_EVERY_S = 10.0


@dataclass
class TreeReport:
    """What the branch and bound did.

    Attributes
    ----------
    bound
        A proven bound on every plan (the best plan's value when the tree was closed).
    best
        The best plan's value at the end.
    nodes
        Nodes whose LP was solved.
    open_nodes
        Nodes left unexplored at the deadline (0 when the tree was closed).
    closed
        True when every node was explored or pruned: the best plan is optimal within the gap.
    seconds
        Time spent.
    """

    bound: float = float("nan")
    best: float = float("nan")
    nodes: int = 0
    open_nodes: int = 0
    closed: bool = False
    seconds: float = 0.0


@dataclass(order=True)
class _Node:
    key: float  # the parent's bound, in the minimising sense: the queue's order
    order: int
    lower: np.ndarray = field(compare=False)
    upper: np.ndarray = field(compare=False)
    center: np.ndarray = field(compare=False)  # the parent's x: the first stability centre
    basis: tuple[list[Any], list[Any]] | None = field(compare=False, default=None)


def branch_and_cut(planes: CuttingPlanes, *, incumbent: float, deadline: float, gap: float,
                   value_of: Callable[[np.ndarray], float], fix_zero: np.ndarray | None = None,
                   say: Callable[[str], None] | None = None) -> TreeReport:
    """Branch and bound on the plan columns over the master LP (module docstring).

    Parameters
    ----------
    planes
        The master with its cuts (its LP solved at least once, so that the cuts are there).
    incumbent
        The best plan's value (``±inf`` without one).
    deadline
        ``time.perf_counter()`` value at which to stop; the bound of the open nodes stands.
    gap
        Relative gap to the best plan under which a node is pruned.
    value_of
        ``value_of(x)``: the exact value of a 0/1 ``x`` (the caller keeps the plan when better).
    fix_zero
        Columns of ``x`` held at zero throughout (reduced-cost fixing at the root).
    say
        Progress lines.

    Returns
    -------
    TreeReport
        The bound, the best value and the size of the tree.
    """
    import highspy

    say = say or (lambda _line: None)
    t0 = time.perf_counter()
    h, cs = planes.h, planes.cs
    sign = -1.0 if planes.maximize else 1.0  # the tree works in the minimising sense
    xs = cs["x"]
    n_int = cs["y"].stop  # x then y: the plan columns
    index = np.arange(n_int, dtype=np.int32)
    lower0, upper0 = planes.plan_bounds()
    upper = upper0.copy()
    if fix_zero is not None:
        held = xs.start + np.flatnonzero(fix_zero)
        upper[held] = lower0[held]
    best = sign * float(incumbent)
    report = TreeReport()
    order = 0
    start_x = planes.report.x if planes.report.x is not None else np.zeros(xs.stop - xs.start)
    queue: list[_Node] = []
    root = sign * planes.report.bound if np.isfinite(planes.report.bound) else -np.inf
    node: _Node | None = _Node(root, order, lower0, upper, start_x)
    said = time.perf_counter()
    tolerance = min(NODE_TOLERANCE, gap / 10)
    settled = np.inf  # the least LP bound of the integral nodes let go: within the tolerance of their value

    def cutoff() -> float:
        return best - gap * abs(best) - 1e-9 * max(abs(best), 1.0)

    while node is not None or queue:
        if node is None:
            node = heapq.heappop(queue)
            if node.key >= cutoff():
                node = None
                continue
        if time.perf_counter() >= deadline:
            break
        h.changeColsBounds(n_int, index, node.lower, node.upper)
        if node.basis is not None:
            _restore(h, node.basis)
        before = planes.report.iterations
        planes.report.converged = False
        rep = planes.lp(start=np.clip(node.center, node.lower[xs], node.upper[xs]), deadline=deadline,
                        tolerance=tolerance, cutoff=sign * cutoff())
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            planes.report.infeasible = False
            report.nodes += 1
            node = None
            continue
        if planes.report.iterations == before or status != highspy.HighsModelStatus.kOptimal:
            if planes.report.iterations > before:  # the deadline within the node: its last LP bound holds
                node.key = max(node.key, sign * rep.bound)
            break
        report.nodes += 1
        bound = sign * rep.bound
        if bound >= cutoff():
            node = None
            continue
        sol = h.getSolution()
        v = np.asarray(sol.col_value)[:n_int]
        frac = np.minimum(v - np.floor(v), np.ceil(v) - v)
        if frac.max() <= INTEGRAL:
            value = sign * float(value_of(np.round(v[xs])))
            best = min(best, value)
            settled = min(settled, bound)
            node = None  # converged at an integral point: nothing better below this node
            continue
        # reduced-cost fixing below this node
        lo, up = reduced_cost_fixing(v, sign * np.asarray(sol.col_dual)[:n_int], node.lower, node.upper,
                                     best - bound, tolerance=INTEGRAL)
        j = int(np.argmax(np.where(lo < up, frac, -1.0)))
        opened_lo, closed_up = lo.copy(), up.copy()
        opened_lo[j] = np.ceil(v[j])
        closed_up[j] = np.floor(v[j])
        order += 1
        basis = h.getBasis()
        saved = (list(basis.col_status), list(basis.row_status)) if basis.valid else None
        heapq.heappush(queue, _Node(bound, order, lo, closed_up, v[xs].copy(), saved))
        order += 1
        node = _Node(bound, order, opened_lo, up, v[xs].copy())
        if time.perf_counter() - said >= SAY_EVERY_S:
            said = time.perf_counter()
            open_bound = min([n.key for n in queue] + [bound])
            say(f"branch and bound: {report.nodes} nodes, {len(queue) + 1} open, bound {sign * open_bound:,.8g}, "
                f"best {sign * best:,.8g}")
    keys = [n.key for n in queue if n.key < cutoff()] + ([node.key] if node is not None else [])
    report.open_nodes = len(keys)
    report.closed = not keys
    report.bound = sign * min([*keys, best, settled])
    report.best = sign * best
    h.changeColsBounds(n_int, index, lower0, upper0)
    report.seconds = time.perf_counter() - t0
    return report


def _restore(h: Any, saved: tuple[list[Any], list[Any]]) -> None:
    """Load a node's starting basis; cut rows added since it was saved start basic."""
    import highspy

    cols, rows = saved
    basis = h.getBasis()
    extra = h.getNumRow() - len(rows)
    if extra < 0 or len(cols) != h.getNumCol():
        return
    basis.col_status = cols
    basis.row_status = rows + [highspy.HighsBasisStatus.kBasic] * extra
    h.setBasis(basis)


__all__ = ["TreeReport", "branch_and_cut"]
