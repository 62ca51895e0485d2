"""No lost or half-written output: a run killed mid-way leaves the previous outputs byte for byte.

``siting run`` runs in a child process; it is interrupted (SIGINT, as Ctrl-C sends, and
SIGKILL, which no program can catch) early in the run and while it writes its outputs (the
moment its temporary folder appears). The previous outputs must then be byte-identical, with
no other file in the output folder; the next run removes what a killed run left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import districts as D  # noqa: N812 - the test helpers, short
from conftest import ROOT
from siting.errors import OutputError
from siting.report.atomic import MARKER, atomic_output_dir, clean_stale, output_folder


def _start(scenario: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "siting.cli", "run", str(scenario), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _temporaries(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _restore(out: Path, files: dict[str, bytes]) -> None:
    """Put back an output folder file by file (as :func:`districts.snapshot` took it)."""
    import shutil

    shutil.rmtree(out)
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert D.snapshot(out) == files


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """A finished run's outputs, and a second scenario whose outputs would differ from them."""
    folder = tmp_path_factory.mktemp("interrupt")
    t = D.tables(seed=3)
    first = D.write(t, folder / "first")
    second = D.write(t, folder / "second", budget=float(t.scenario["budget"]) * 0.6)
    out = folder / "out" / "plan"
    proc = _start(first, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return second, out, D.snapshot(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("moment", ["while writing", "early"])
def test_killed_run_leaves_previous_outputs_untouched(previous: tuple[Path, Path, dict[str, bytes]],
                                                     sig: signal.Signals, moment: str) -> None:
    second, out, before = previous
    assert D.snapshot(out) == before
    for _attempt in range(3):
        proc = _start(second, out)
        deadline = time.monotonic() + 120
        if moment == "early":
            time.sleep(0.8)
        else:
            while not any(".tmp-" in name for name in _temporaries(out)):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the run never started writing"
                time.sleep(0.002)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            break
        # on a loaded machine the run can finish writing before this process sends the signal:
        # put the previous outputs back and try again
        _restore(out, before)
    assert proc.returncode != 0, "the run finished before the signal three times: nothing was tested"
    assert D.snapshot(out) == before  # same files, same bytes, nothing half-written inside
    if sig == signal.SIGINT and moment == "while writing":
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "interrupted" in err
        assert _temporaries(out) == []  # Ctrl-C cleans up after itself
    clean_stale(out)  # what the next run does first
    assert _temporaries(out) == []
    assert D.snapshot(out) == before


def test_next_run_replaces_outputs_and_removes_leftovers(previous: tuple[Path, Path, dict[str, bytes]],
                                                         tmp_path: Path) -> None:
    second, out, before = previous
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = out.parent / f".{out.name}.tmp-{dead.pid}-x1"
    leftover.mkdir()
    (leftover / "plan.csv").write_text("half", encoding="utf-8")
    proc = _start(second, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    after = D.snapshot(out)
    assert after.keys() == before.keys()
    assert after["plan.csv"] != before["plan.csv"]  # the second scenario's plan, whole
    assert _temporaries(out) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic exchange", "two renames"])
def test_atomic_output_dir_replaces_only_on_success(tmp_path: Path, exchange: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not exchange:
        monkeypatch.setattr("siting.report.atomic._exchange", lambda a, b: False)
    target = tmp_path / "out" / "plan"
    with atomic_output_dir(target) as tmp:
        (tmp / "a.csv").write_text("first", encoding="utf-8")
    assert (target / "a.csv").read_text(encoding="utf-8") == "first"
    assert (target / MARKER).is_file()
    assert target.stat().st_mode & 0o077 == 0o777 & ~_umask() & 0o077  # an ordinary folder, not private
    before = D.snapshot(target)
    with pytest.raises(RuntimeError), atomic_output_dir(target) as tmp:
        (tmp / "a.csv").write_text("second, half", encoding="utf-8")
        raise RuntimeError("stopped while writing")
    assert D.snapshot(target) == before
    assert _temporaries(target) == []
    with atomic_output_dir(target) as tmp:
        (tmp / "b.csv").write_text("third", encoding="utf-8")
    assert sorted(D.snapshot(target)) == [MARKER, "b.csv"]
    assert _temporaries(target) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_previous_output_moved_aside_by_a_killed_run_is_restored(tmp_path: Path) -> None:
    """A kill between the two renames of the fallback leaves the previous output in '.old': it comes back."""
    target = tmp_path / "plan"
    aside = tmp_path / f".plan.old-{_dead_pid()}-abc"
    aside.mkdir()
    (aside / "plan.csv").write_text("previous", encoding="utf-8")
    (aside / MARKER).write_text("", encoding="utf-8")
    alive = tmp_path / f".plan.tmp-{os.getppid()}-abc"  # another run, still writing: left alone
    alive.mkdir()
    clean_stale(target)
    assert (target / "plan.csv").read_text(encoding="utf-8") == "previous"
    assert not aside.exists()
    assert alive.exists()


def test_output_folder_stays_inside_its_root(tmp_path: Path) -> None:
    assert output_folder(tmp_path, "jiangbei-yubei.v2") == (tmp_path / "jiangbei-yubei.v2").resolve()
    for name in ("..", ".", "../../etc", "/etc", "a/b", ""):
        with pytest.raises(OutputError):
            output_folder(tmp_path, name)


def test_a_file_is_never_replaced_by_an_output_folder(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"%PDF")
    with pytest.raises(OutputError, match="is a file"), atomic_output_dir(target):
        pass
    assert target.read_bytes() == b"%PDF"


CTRL_C_CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from test_optimizer import bds_like
from siting.optimizer.covering import optimize_covering
from siting.solvers import SolveOptions
problem = bds_like(3, n=30000, m=400, budget=30, radius=0.08)
print("solving", flush=True)
sol = optimize_covering(*problem, options=SolveOptions(time_limit_s=60.0, mip_gap=0.0), method="{method}")
print("finished", sol.result.status.value, flush=True)
"""


@pytest.mark.parametrize("method", ["direct", "benders"])
def test_ctrl_c_during_a_solve_stops_the_program(method: str) -> None:
    """Ctrl-C while HiGHS solves raises KeyboardInterrupt once HiGHS has stopped; it used to be
    swallowed inside HiGHS's callbacks (the solve ended as an error and the program went on)."""
    code = CTRL_C_CHILD.format(tests=str(ROOT / "tests"), method=method)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "solving"
    time.sleep(1.5)  # well inside the solve, which needs several seconds at gap 0
    assert proc.poll() is None, "the solve ended before the signal: nothing was tested"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "finished" not in out, out
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err
    assert time.monotonic() - started < 30  # HiGHS stopped at once, not at its 60 s time limit (a loaded machine)
