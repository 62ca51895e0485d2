"""One deadline for a whole optimisation, and what a stopped or plan-less solve says.

Every step of an optimisation (heuristic, LP bound, kernel and neighbourhood search, a last
branch and bound) works to the scenario's one time limit: :class:`Deadline` hands each step
its share of the time left and keeps a small margin back for reading the answer, so that the
whole solve returns within seconds of ``solver.time_limit_s``. HiGHS is interrupted at the
deadline by its callbacks (:func:`siting.solvers.highs.stop_at`).

The messages are in the planner's words: a solve stopped at its limit says so and with which
plan, and "no plan" is only said where none exists (:func:`no_plan_reason`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from siting.solvers.base import SolveOptions, Status

#: Seconds kept back at the end for reading the answer (at most; 5 % of short limits).
MARGIN_S = 0.5


@dataclass
class Deadline:
    """The wall-clock end of an optimisation.

    Attributes
    ----------
    limit_s
        The time limit it was made from (for messages).
    start
        ``time.perf_counter()`` when it was made.
    """

    limit_s: float
    start: float = field(default_factory=time.perf_counter)

    @property
    def end(self) -> float:
        """``time.perf_counter()`` value of the deadline."""
        return self.start + self.limit_s

    @property
    def margin(self) -> float:
        """Seconds kept back at the end."""
        return min(MARGIN_S, 0.05 * self.limit_s)

    def left(self) -> float:
        """Seconds left before the deadline (negative once past it)."""
        return self.end - time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start

    def usable(self) -> float:
        """Seconds left for work, the margin kept back (never negative)."""
        return max(self.left() - self.margin, 0.0)

    def expired(self) -> bool:
        """True once only the margin is left."""
        return self.usable() <= 0.0

    def share(self, fraction: float, *, at_most: float | None = None, at_least: float = 0.0) -> float:
        """Seconds for a step: ``fraction`` of the usable time, clipped (never beyond the deadline)."""
        usable = self.usable()
        s = fraction * usable
        if at_most is not None:
            s = min(s, at_most)
        return min(max(s, at_least), usable)

    def until(self, seconds: float) -> float:
        """The ``time.perf_counter()`` value ``seconds`` from now, not beyond the deadline less the margin."""
        return min(time.perf_counter() + max(seconds, 0.0), self.end - self.margin)

    def options(self, base: SolveOptions, seconds: float | None = None, **changes: object) -> SolveOptions:
        """``base`` with the time limit of a step (default: all usable time) and other changes."""
        limit = self.usable() if seconds is None else min(seconds, self.usable())
        return replace(base, time_limit_s=max(limit, 0.01), **changes)  # type: ignore[arg-type]


def stopped_at_limit(limit_s: float, what: str = "the best plan found") -> str:
    """The message of an optimisation stopped at its time limit."""
    return f"stopped at the time limit (solver.time_limit_s = {limit_s:g} s) with {what}"


def no_plan_reason(status: Status, limit_s: float, *, requirements: str = "budget, min_sites, force_in") -> str:
    """Why there is no plan, in the planner's words, with what to do about it.

    Parameters
    ----------
    status
        ``infeasible`` (no plan meets the rules), ``time_limit`` (none found in time) or ``error``.
    limit_s
        The time limit.
    requirements
        The scenario fields that may conflict, named in the message.
    """
    if status is Status.INFEASIBLE:
        return (f"no plan meets every requirement at once ({requirements}); raise the budget or relax one "
                f"of them")
    if status is Status.TIME_LIMIT:
        return (f"no plan meeting every requirement was found within solver.time_limit_s = {limit_s:g} s; raise "
                f"the time limit or relax the requirements ({requirements})")
    return "the solver failed before finding a plan"


__all__ = ["MARGIN_S", "Deadline", "no_plan_reason", "stopped_at_limit"]
