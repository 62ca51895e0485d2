"""Tasks and their results: plain data that travels between the driver and the workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from siting.errors import SitingError


@dataclass(frozen=True)
class Task:
    """One independent piece of work.

    Attributes
    ----------
    key
        A readable name, unique within a run (a variant's or a circle's name).
    func
        A module-level function (so that it pickles by reference).
    args, kwargs
        Plain, picklable arguments; a :class:`Shared` argument stands for a value shared by
        many tasks (sent once to a cluster).
    """

    key: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    """What became of one task.

    Attributes
    ----------
    key
        The task's key.
    value
        What the function returned (``None`` when it failed); a :class:`Shared` handle when
        the run kept results on the cluster.
    error
        The error message, or ``None`` when the task succeeded.
    error_type
        Class name of the error (``InfeasibleError``, ``KilledWorker``, ``TimeoutError``...).
    user_error
        True when the error is the input's fault (a :class:`~siting.errors.SitingError`).
    seconds
        Time the function ran (on its last attempt).
    worker
        Address of the worker that ran it, or ``"this process"``.
    traceback
        The traceback of an unexpected error, for bug reports.
    """

    key: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    user_error: bool = False
    seconds: float = 0.0
    worker: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        """True when the task succeeded."""
        return self.error is None


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for progress bars.

    Attributes
    ----------
    label
        What the run is doing (e.g. ``"pricing round 3"``).
    total, done, failed
        Tasks in the run, finished (failed included) and failed.
    running
        Keys of the tasks on workers now.
    elapsed_s
        Seconds since the run started.
    eta_s
        Estimated seconds left, ``None`` until a first task has finished.
    last
        The task that just finished, if any.
    """

    label: str
    total: int
    done: int
    failed: int
    running: tuple[str, ...]
    elapsed_s: float
    eta_s: float | None
    last: TaskResult | None = None


ProgressCallback = Callable[[Progress], None]
ResultCallback = Callable[[int, TaskResult], None]


@dataclass(frozen=True)
class Shared:
    """A value used by many tasks: sent to a cluster once, then passed to tasks by reference.

    Attributes
    ----------
    ref
        The value itself (in this process) or a Dask future holding it on the cluster.
    """

    ref: Any


def _unshare(obj: Any) -> Any:
    """Replace :class:`Shared` handles by their references, inside tuples, lists and dicts too."""
    if isinstance(obj, Shared):
        return obj.ref
    if isinstance(obj, tuple | list):
        return type(obj)(_unshare(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _unshare(v) for k, v in obj.items()}
    return obj


@dataclass(frozen=True)
class _Outcome:
    """What :func:`_call` sends back from a worker."""

    value: Any
    error: str | None
    error_type: str | None
    seconds: float
    worker: str


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "this process"


def _call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> _Outcome:
    """Run one task; the input's errors come back as data, anything else is raised (and retried)."""
    t0 = time.perf_counter()
    try:
        value = func(*args, **kwargs)
    except SitingError as e:
        return _Outcome(None, str(e), type(e).__name__, time.perf_counter() - t0, _worker_address())
    return _Outcome(value, None, None, time.perf_counter() - t0, _worker_address())


def _unwrap(outcome: _Outcome) -> Any:
    """The value of a finished task, kept on the cluster."""
    return outcome.value


def _result(key: str, outcome: _Outcome, value: Any) -> TaskResult:
    return TaskResult(key, value if outcome.error is None else None, outcome.error, outcome.error_type,
                      user_error=outcome.error is not None, seconds=outcome.seconds, worker=outcome.worker)


def _failure(key: str, exc: BaseException, tb: str = "") -> TaskResult:
    name = type(exc).__name__
    message = str(exc) or name
    if name == "KilledWorker":
        message = (f"the worker running '{key}' died each time it was tried ({exc}); the task may need more "
                   f"memory than a worker has")
    return TaskResult(key, error=message, error_type=name, user_error=isinstance(exc, SitingError), traceback=tb)


class _Tracker:
    """Counts finished tasks and reports progress."""

    def __init__(self, label: str, total: int, callback: ProgressCallback | None) -> None:
        self.label, self.total, self.callback = label, total, callback
        self.done = self.failed = 0
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def report(self, running: tuple[str, ...], last: TaskResult | None = None) -> None:
        if self.callback is None:
            return
        elapsed = self.elapsed()
        eta = elapsed * (self.total - self.done) / self.done if self.done else None
        self.callback(Progress(self.label, self.total, self.done, self.failed, running, elapsed, eta, last))

    def finished(self, result: TaskResult, running: tuple[str, ...]) -> None:
        self.done += 1
        self.failed += 0 if result.ok else 1
        self.report(tuple(k for k in running if k != result.key), result)


def failures(results: Iterable[TaskResult]) -> list[TaskResult]:
    """The results that failed."""
    return [r for r in results if not r.ok]


__all__ = ["Progress", "ProgressCallback", "ResultCallback", "Shared", "Task", "TaskResult", "failures"]
