"""Solve in a watched child process: a solver that crashes or hangs is reported, not waited on.

A solver is native code: a bug in it, a lack of memory or a signal can end the whole process
without a Python exception, and a solver can overrun its time limit. With
``SolveOptions(isolate=True)`` the solve runs in a fresh child process;
the parent waits for its answer, for its end, or for the time limit plus a grace period,
whichever comes first, and turns a dead or silent child into a :class:`SolveResult` with
status ``error`` and a message that says what happened. The normal path (``isolate=False``)
is untouched.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import IO, Any

from siting.model.milp import MilpModel
from siting.solvers.base import Backend, SolveOptions, SolveResult, Status

#: Seconds a child may take beyond the solver's time limit (start-up included) before it is killed.
DEFAULT_GRACE_S = 60.0


def _failed(backend: Backend, message: str, started: float) -> SolveResult:
    return SolveResult(Status.ERROR, None, float("nan"), float("nan"), float("inf"), backend.name,
                       {"solve": time.perf_counter() - started}, message)


def _death(returncode: int | None) -> str:
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exited with code {returncode}"


def _send(stream: IO[bytes], job: bytes) -> None:
    """Write the job to the child's stdin (in a thread: a child that never reads must not block us)."""
    try:
        stream.write(job)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):  # the child died; the parent reports it
        pass


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Read ``fd`` to its end or until ``deadline``; True when the end was reached."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def solve_isolated(model: MilpModel, backend: Backend, options: SolveOptions, *,
                   grace_s: float | None = None, on_start: Callable[[int], None] | None = None) -> SolveResult:
    """Solve ``model`` with ``backend`` in a watched child process.

    The child is a fresh Python (``python -m siting.solvers.isolated``), so the caller's own
    script is never re-run; the job goes in on its stdin and the result comes back on a pipe
    of its own, so that solver logs on stdout cannot garble it.

    Parameters
    ----------
    model
        The model.
    backend
        The backend object (it is sent to the child, so its class must be importable there).
    options
        Solver options; ``isolate`` is ignored in the child.
    grace_s
        Seconds allowed beyond ``options.time_limit_s`` before the child is killed
        (default :data:`DEFAULT_GRACE_S`).
    on_start
        Called with the child's process id once it runs (for progress messages).

    Returns
    -------
    SolveResult
        The child's result; status ``error`` with the reason when the child died, raised, or
        did not answer in time.
    """
    grace = DEFAULT_GRACE_S if grace_s is None else grace_s
    job = pickle.dumps(list(sys.path)) + pickle.dumps((backend, model, replace(options, isolate=False)))
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "siting.solvers.isolated", str(write_fd)],
                                stdin=subprocess.PIPE, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    try:
        assert proc.stdin is not None
        threading.Thread(target=_send, args=(proc.stdin, job), daemon=True).start()
        if on_start is not None:
            on_start(proc.pid)
        data, ended = _read_until(read_fd, time.monotonic() + options.time_limit_s + grace)
        if not ended:
            return _failed(backend, f"the {backend.name} solver did not return within {grace:g} s after its "
                                    f"time limit of {options.time_limit_s:g} s; it was stopped", started)
        try:
            kind, payload = pickle.loads(data)
        except Exception:  # nothing or half an answer: the child died on the way
            try:
                code = proc.wait(10)
            except subprocess.TimeoutExpired:
                code = None
            return _failed(backend, f"the {backend.name} solver process {_death(code)} after "
                                    f"{time.perf_counter() - started:.1f} s, before answering", started)
        if kind == "ok":
            result: SolveResult = payload
            return result
        return _failed(backend, f"the {backend.name} solver failed: {payload}", started)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(read_fd)


def _main(result_fd: int) -> None:
    """The child: read the job from stdin, solve, write the result to ``result_fd``."""
    stdin = sys.stdin.buffer
    sys.path[:] = pickle.load(stdin)
    backend, model, options = pickle.load(stdin)
    answer: tuple[str, Any]
    try:
        answer = ("ok", backend.solve(model, options))
    except BaseException as e:  # the parent reports anything the backend raises
        answer = ("error", f"{type(e).__name__}: {e}")
    with os.fdopen(result_fd, "wb") as out:
        pickle.dump(answer, out)


if __name__ == "__main__":
    _main(int(sys.argv[1]))
