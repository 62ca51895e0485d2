"""The workbench: one scenario prepared once, re-solved after every edit, one solve at a time.

A :class:`Workbench` holds the loaded scenario, its preparation (:mod:`siting.serve.views`),
the current plan and the one before it, and the plans saved under a name. It knows nothing of
HTTP: :mod:`siting.serve.app` calls it from a worker thread.

**One solve at a time; newer edits win.** Every call of :meth:`Workbench.solve` takes a
ticket. Solves run one after another (a lock); when a solve ends, or before it starts, the
workbench checks whether a newer edit has arrived since its ticket was taken:

- an edit still *waiting* when a newer one arrives is **cancelled**: it is never solved;
- an edit whose solve was *running* when a newer one arrived is **superseded**: HiGHS is not
  interrupted in its thread (highspy offers no safe way to stop a solve from another thread
  short of its time limit), the solve runs to its end, and its plan is discarded — it never
  becomes the current plan, and its caller is told ``superseded``.

Either way the current plan only ever moves to the plan of the newest edit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siting.data.overrides import apply_overrides
from siting.data.scenario import Scenario
from siting.errors import InfeasibleError, SitingError, ValidationErrors
from siting.pipeline import Prepared, solve_prepared
from siting.pipeline.plan import Plan
from siting.serve.edits import Edits
from siting.serve.payloads import jsonable, plan_diff, plan_figures, ranked_options
from siting.serve.views import DEFAULT_MAX_WALK_SCALE, edited_preparation, prepare_base, service_positions

log = logging.getLogger("siting.serve")

#: Progress lines kept for the status of a running solve.
PROGRESS_LINES = 8


@dataclass(frozen=True)
class PlanRecord:
    """A plan and how it came about.

    Attributes
    ----------
    edits
        The edits (request body, as sent) against the loaded scenario.
    scenario
        The edited scenario.
    prepared
        The preparation seen under the edited scenario.
    plan
        The plan.
    seconds
        Wall-clock seconds of the edit (view and solve).
    warm_start
        Whether the solve was offered the previous plan as a start.
    """

    edits: dict[str, Any]
    scenario: Scenario
    prepared: Prepared
    plan: Plan
    seconds: float
    warm_start: bool = False


@dataclass
class _Running:
    """What the solver thread is doing now, for ``GET /api/status``."""

    what: str = "idle"
    ticket: int = 0
    started: float = 0.0
    lines: list[str] = field(default_factory=list)


class Workbench:
    """A scenario prepared once and re-solved per edit (see the module docstring).

    Parameters
    ----------
    scenario
        The loaded scenario.
    max_walk_scale
        The largest walking-limit scale edits may ask for (the district is walked that far).
    time_limit_s
        Time limit of each solve, replacing the scenario's ``solver.time_limit_s`` when given.
    backend
        Solver backend replacing the scenario's when given.
    warm_start
        Offer the current plan to each solve as a start.
    """

    def __init__(self, scenario: Scenario, *, max_walk_scale: float = DEFAULT_MAX_WALK_SCALE,
                 time_limit_s: float | None = None, backend: str | None = None, warm_start: bool = True) -> None:
        if time_limit_s is not None:
            scenario = apply_overrides(scenario, {"solver.time_limit_s": float(time_limit_s)},
                                       label="the workbench's time limit")
        self.scenario = scenario
        self.max_walk_scale = float(max_walk_scale)
        self.backend = backend
        self.warm_start = warm_start
        t0 = time.perf_counter()
        self.base = prepare_base(scenario, max_walk_scale=max_walk_scale)
        self.prepare_seconds = time.perf_counter() - t0
        self.current: PlanRecord | None = None
        self.previous: PlanRecord | None = None
        self.saved: dict[str, PlanRecord] = {}
        self._solve_lock = threading.Lock()  # one solve at a time
        self._state = threading.Lock()  # tickets, status
        self._latest = 0
        self._waiting = 0
        self._running = _Running()
        self.solve_fn: Callable[..., Plan] = solve_prepared  # a seam for tests (a slow or failing solve)

    # -- what is loaded ---------------------------------------------------------------------------
    @property
    def site_ids(self) -> list[str]:
        """Ids of the ledger's sites."""
        return [str(s) for s in self.base.district.sites.ids]

    @property
    def service_keys(self) -> list[str]:
        """Keys of the services the workbench can put in play."""
        return list(self.base.catalogue.service_keys)

    @property
    def group_keys(self) -> list[str]:
        """Keys of the age groups."""
        return list(self.base.catalogue.group_keys)

    def edited_scenario(self, edits: Edits) -> Scenario:
        """The loaded scenario with the edits applied (the one override mechanism).

        Raises
        ------
        ScenarioError
            A field whose new value is not accepted, named with the fix.
        """
        return apply_overrides(self.scenario, edits.overrides(), label="the edit")

    # -- tickets and status -----------------------------------------------------------------------
    def _take_ticket(self) -> int:
        with self._state:
            self._latest += 1
            self._waiting += 1
            return self._latest

    def _superseded(self, ticket: int) -> bool:
        with self._state:
            return ticket != self._latest

    def _say(self, line: str) -> None:
        with self._state:
            self._running.lines = [*self._running.lines, line][-PROGRESS_LINES:]

    def status(self) -> dict[str, Any]:
        """What the solver thread is doing: ``idle``, ``solving`` or ``frontier``, since when, its last lines."""
        with self._state:
            r = self._running
            return {"state": r.what, "edit": r.ticket, "latest_edit": self._latest, "waiting": self._waiting,
                    "elapsed_s": round(time.perf_counter() - r.started, 2) if r.what != "idle" else 0.0,
                    "progress": list(r.lines)}

    def waiting(self) -> int:
        """Number of edits waiting for the solver."""
        with self._state:
            return self._waiting

    @contextlib.contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold the solver for other work (``what``: shown by :meth:`status`), between edits."""
        with self._solve_lock:
            self._begin(what, 0)
            try:
                yield
            finally:
                self._end()

    def _begin(self, what: str, ticket: int) -> None:
        with self._state:
            self._running = _Running(what, ticket, time.perf_counter(), [])

    def _end(self) -> None:
        with self._state:
            self._running = _Running()

    # -- solving ----------------------------------------------------------------------------------
    def _start_plan(self, prepared: Prepared) -> np.ndarray | None:
        """The current plan as a start for a solve on ``prepared`` (services matched by key)."""
        if not self.warm_start or self.current is None:
            return None
        old = self.current
        keys = prepared.catalogue.service_keys
        old_keys = old.prepared.catalogue.service_keys
        start = np.zeros((len(prepared.district.sites), len(keys)), dtype=bool)
        shared = [k for k in keys if k in old_keys]
        if shared:
            start[:, service_positions(shared, keys)] = old.plan.hosts[:, service_positions(shared, old_keys)]
        return start

    def solve(self, edits: Edits, scenario: Scenario | None = None) -> dict[str, Any]:
        """Solve one edit; the answer as the API returns it.

        ``status`` is the plan's (``optimal``, ``feasible``, ``time_limit``) when the edit became
        the current plan; ``infeasible`` or ``error`` (with ``message``) when it has no plan
        and the current plan stays; ``cancelled`` or ``superseded`` when a newer edit replaced
        it (module docstring).
        """
        ticket = self._take_ticket()
        entered = False
        try:
            with self._solve_lock:
                with self._state:
                    self._waiting -= 1
                entered = True
                if self._superseded(ticket):
                    return self._not_current(ticket, "cancelled", "a newer edit arrived before this one was solved; "
                                                                  "it was not solved")
                return self._solve_now(ticket, edits, scenario)
        finally:
            if not entered:
                with self._state:
                    self._waiting -= 1

    def _not_current(self, ticket: int, status: str, message: str) -> dict[str, Any]:
        out: dict[str, Any] = {"edit": ticket, "status": status, "message": message, "current": False}
        if self.current is not None:
            out["current_status"] = self.current.plan.status.value
        return out

    def _solve_now(self, ticket: int, edits: Edits, scenario: Scenario | None) -> dict[str, Any]:
        self._begin("solving", ticket)
        t0 = time.perf_counter()
        start = None
        try:
            scenario = scenario if scenario is not None else self.edited_scenario(edits)
            prepared = edited_preparation(self.base, scenario)
            start = self._start_plan(prepared)
            self._say(f"model: {len(prepared.district.sites)} sites, {len(prepared.catalogue.services)} services")
            plan = self.solve_fn(prepared, backend=self.backend, progress=self._say, start=start)
        except (InfeasibleError, ValidationErrors) as e:  # requirements that cannot hold together
            return self._failed(ticket, "infeasible", str(e))
        except SitingError as e:
            return self._failed(ticket, "error", str(e))
        except Exception as e:  # a crash of the solver or a bug: the current plan stays
            log.exception("solve of edit %d failed", ticket)
            return self._failed(ticket, "error", f"the solve failed ({type(e).__name__}: {e}); the previous plan "
                                                 f"is kept")
        finally:
            self._end()
        seconds = time.perf_counter() - t0
        if self._superseded(ticket):
            return self._not_current(ticket, "superseded", "a newer edit arrived while this one was being solved; "
                                                           "its plan was discarded")
        record = PlanRecord(edits.model_dump(exclude_none=True), scenario, prepared, plan, seconds,
                            warm_start=start is not None)
        with self._state:
            self.previous, self.current = self.current, record
        return self.describe(record, self.previous, edit=ticket)

    def _failed(self, ticket: int, status: str, message: str) -> dict[str, Any]:
        out = self._not_current(ticket, status, message)
        out["current"] = False
        out["kept_previous_plan"] = self.current is not None
        return out

    def describe(self, record: PlanRecord, previous: PlanRecord | None = None, *, edit: int = 0) -> dict[str, Any]:
        """A plan as the API shows it: figures, ranked options, and what changed against ``previous``."""
        cat = record.prepared.catalogue
        out = {"edit": edit, "current": record is self.current, **plan_figures(record.plan, cat),
               "seconds": round(record.seconds, 3), "warm_start": record.warm_start, "edits": record.edits,
               **ranked_options(record.prepared, record.plan),
               "diff": plan_diff(previous.plan, record.plan, cat) if previous is not None else None}
        return dict(jsonable(out))

    # -- saved plans --------------------------------------------------------------------------------
    def save(self, name: str) -> dict[str, Any]:
        """Keep the current plan under ``name`` (replacing a plan of that name)."""
        if self.current is None:
            raise SitingError("there is no plan to save yet; wait for the first solve")
        with self._state:
            replaced = name in self.saved
            self.saved[name] = self.current
        return {"name": name, "replaced": replaced, **self.summary(name)}

    def record(self, name: str) -> PlanRecord | None:
        """A saved plan, or the current one (``current``)."""
        if name == "current":
            return self.current
        return self.saved.get(name)

    def summary(self, name: str) -> dict[str, Any]:
        """Key figures of a saved plan (or ``current``)."""
        rec = self.record(name)
        if rec is None:
            raise KeyError(name)
        plan = rec.plan
        return dict(jsonable({"name": name, "status": plan.status.value, "objective": plan.objective,
                              "bound": plan.bound, "gap": plan.gap, "budget": plan.budget, "cost": plan.cost,
                              "sites_used": plan.sites_used, "services_placed": len(plan.assignments),
                              "edits": rec.edits,
                              "coverage_by_age_group": plan_figures(plan, rec.prepared.catalogue)[
                                  "coverage_by_age_group"]}))


__all__ = ["PlanRecord", "Workbench"]
