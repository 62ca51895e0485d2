"""Scheduler strings: where the tasks of a run go (see :mod:`siting.execution`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from siting.errors import ExecutionError

SCHEDULER_ENV = "SITING_SCHEDULER"
DEFAULT_SCHEDULER = "processes"
REMOTE_PREFIXES = ("tcp://", "tls://", "ws://", "wss://", "ucx://")

SchedulerKind = Literal["sync", "processes", "local", "remote"]


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed scheduler string.

    Attributes
    ----------
    kind
        ``sync``, ``processes``, ``local`` or ``remote``.
    workers
        Number of local worker processes (``None``: one per core).
    address
        The scheduler's address for ``remote``.
    """

    kind: SchedulerKind
    workers: int | None = None
    address: str | None = None

    def describe(self) -> str:
        """A readable account of where tasks run."""
        if self.kind == "sync":
            return "this process, one task after the other"
        if self.kind == "remote":
            return f"the Dask cluster at {self.address}"
        n = self.workers or local_cores()
        return f"{n} local worker process{'es' if n != 1 else ''}"


def local_cores() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_scheduler(scheduler: str | None = None) -> SchedulerSpec:
    """Parse a scheduler string; ``None`` reads ``SITING_SCHEDULER``, then uses ``processes``.

    Raises
    ------
    ExecutionError
        When the string is none of the accepted forms.
    """
    origin = "--scheduler"
    if scheduler is None or not scheduler.strip():
        env = os.environ.get(SCHEDULER_ENV, "").strip()
        scheduler, origin = (env, f"environment variable {SCHEDULER_ENV}") if env else (DEFAULT_SCHEDULER, "")
    text = scheduler.strip()
    if text.startswith(REMOTE_PREFIXES):
        return SchedulerSpec("remote", address=text)
    name, _, count = text.partition(":")
    name = name.lower()
    if name in ("sync", "serial") and not count:
        return SchedulerSpec("sync", workers=1)
    if name in ("processes", "local"):
        if not count:
            return SchedulerSpec(name, workers=2 if name == "local" else None)  # type: ignore[arg-type]
        if count.isdigit() and int(count) >= 1:
            return SchedulerSpec(name, workers=int(count))  # type: ignore[arg-type]
    raise ExecutionError(
        f"{origin or 'scheduler'}: '{scheduler}' is not a scheduler; use 'processes' (default, one worker per "
        f"core), 'processes:N', 'local' or 'local:N' (a LocalCluster of N workers), 'sync' (in this process), "
        f"or the address of a running Dask scheduler such as tcp://10.0.0.5:8786")


__all__ = ["DEFAULT_SCHEDULER", "REMOTE_PREFIXES", "SCHEDULER_ENV", "SchedulerKind", "SchedulerSpec", "local_cores",
           "resolve_scheduler"]
