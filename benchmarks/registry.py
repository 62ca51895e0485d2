"""A small registry of named benchmark cases.

A case is a function decorated with :func:`case`; it takes a :class:`Context` and returns a
list of result rows (plain dicts). Cases live in ``benchmarks/cases_*.py`` modules, which
``python -m benchmarks`` imports. Each case belongs to one or more suites (``quick``, ``full``);
``quick`` must finish in under 5 minutes on a 2-core machine.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Row = dict[str, Any]
#: Another source tree to measure beside this one (a worktree of an earlier commit), or unset.
BEFORE_ENV = "SITING_BENCH_BEFORE"


def before_tree() -> Path | None:
    """The checkout named by :data:`BEFORE_ENV`, for cases that time the previous code beside this one."""
    before = os.environ.get(BEFORE_ENV)
    if not before:
        return None
    tree = Path(before).resolve()
    if not (tree / "src" / "siting").is_dir():
        raise SystemExit(f"{BEFORE_ENV}={before}: no src/siting there; name a checkout (a git worktree) of siting")
    return tree


@dataclass(frozen=True)
class Context:
    """What every case gets: where the shared instances are, a scratch folder, where results go.

    Attributes
    ----------
    shared
        The shared benchmark folder (may not exist).
    scratch
        A temporary folder, removed after the run.
    suite
        ``quick`` or ``full``.
    out
        Results folder; figures of the run go there (see :meth:`figure`).
    stem
        Common stem of the run's result files (``<date>-<host>-<suite>``).
    problems
        Wrong results found so far (see :meth:`fail`).
    """

    shared: Path
    scratch: Path
    suite: str
    out: Path = ROOT / "benchmarks" / "results"
    stem: str = "run"
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Record a wrong result (e.g. two solvers disagree on a proven optimum).

        The case goes on and its rows are kept; the run prints every problem loudly at the
        end and exits with code 1.
        """
        print(f"!! {message}", file=sys.stderr, flush=True)
        self.problems.append(message)

    @property
    def full(self) -> bool:
        """True in the full suite."""
        return self.suite == "full"

    def figure(self, name: str) -> Path:
        """Path of a figure (PNG) of this run: ``<out>/<stem>-<name>.png``."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / f"{self.stem}-{name}.png"

    def require_shared(self, *parts: str) -> Path:
        """Path inside the shared benchmark folder; raises :class:`Skip` when absent."""
        path = self.shared.joinpath(*parts)
        if not path.exists():
            raise Skip(f"{path} not found (set SITING_BENCHMARKS to the shared benchmarks folder)")
        return path


class Skip(Exception):
    """Raised by a case that cannot run here; the message says why."""


@dataclass(frozen=True)
class Case:
    """A registered benchmark case."""

    name: str
    func: Callable[[Context], list[Row]]
    suites: tuple[str, ...]
    title: str
    columns: tuple[str, ...] = field(default_factory=tuple)
    only_columns: bool = False


CASES: dict[str, Case] = {}


def case(name: str, *, suites: tuple[str, ...] = ("quick", "full"), title: str = "",
         columns: tuple[str, ...] = (), only_columns: bool = False,
         ) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    """Register a benchmark case under ``name``.

    Parameters
    ----------
    name
        Unique name (``--case`` selects by prefix).
    suites
        Suites that run it.
    title
        Heading of its table in the Markdown report.
    columns
        Column order of its table (default: the keys of the first row).
    only_columns
        Show only ``columns`` in the Markdown table (the JSON keeps every key); by default
        the other keys follow them.
    """

    def register(func: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} registered twice")
        CASES[name] = Case(name, func, suites, title or name, columns, only_columns)
        return func

    return register


def load_cases() -> dict[str, Case]:
    """Import every ``benchmarks/cases_*.py`` module and return the registry."""
    pkg = Path(__file__).resolve().parent
    for info in sorted(pkgutil.iter_modules([str(pkg)]), key=lambda i: i.name):
        if info.name.startswith("cases_"):
            importlib.import_module(f"benchmarks.{info.name}")
    return CASES


def shared_dir() -> Path:
    """The shared benchmark folder: ``SITING_BENCHMARKS`` or ``../shared/benchmarks``."""
    return Path(os.environ.get("SITING_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))


# ---------------------------------------------------------------- memory and processes


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process now, in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e3
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def reset_peak_rss() -> bool:
    """Reset this process's peak-memory mark (Linux ``clear_refs``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples this process's resident memory in a background thread.

    ``peak(t0, t1)`` is the highest sample between two :func:`time.perf_counter` stamps, so
    that the memory of each stage of a pipeline can be read after the run from the stages'
    own timings.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), rss_mb()))

    def peak(self, t0: float, t1: float) -> float:
        """Highest resident memory sampled between ``t0`` and ``t1`` (MB)."""
        inside = [mb for t, mb in self.samples if t0 <= t <= t1]
        after = [mb for t, mb in self.samples if t > t1][:1]  # the sample closing the window
        return max(inside + after, default=float("nan"))


def run_worker(target: str, kwargs: dict[str, Any], *, timeout_s: float, max_rss_mb: float = 12_000.0,
               scratch: Path) -> Row:
    """Run ``module:function(**kwargs)`` in a fresh Python process, for whole-process figures.

    The function returns a JSON-able row. The process is killed when it runs longer than
    ``timeout_s`` or its resident memory exceeds ``max_rss_mb``; the row then says so.

    Returns
    -------
    dict
        The function's row plus ``process_s`` (wall-clock of the whole process: start,
        imports, instance and work) and ``process_peak_mb`` (its peak resident memory).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    result = scratch / f"worker-{os.getpid()}-{time.time_ns()}.json"
    spec = json.dumps({"target": target, "kwargs": kwargs, "result": str(result)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.worker", spec], cwd=ROOT, env=env,
                            start_new_session=True)
    stopped = ""
    peak_seen = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak_seen = max(peak_seen, rss_mb(proc.pid))
        elapsed = time.perf_counter() - t0
        if not stopped and elapsed > timeout_s:
            stopped = f"killed: did not finish within {timeout_s:g} s"
        elif not stopped and peak_seen > max_rss_mb:
            stopped = f"killed: memory above {max_rss_mb:,.0f} MB"
        if stopped:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    row: Row = {}
    if result.is_file():
        row = json.loads(result.read_text())
        result.unlink()
    elif stopped:
        row = {"status": stopped}
    else:
        row = {"status": f"error: worker exited with code {proc.returncode}"}
    row["process_s"] = wall
    row["process_peak_mb"] = max(usage.ru_maxrss / 1e3, peak_seen)
    return row
