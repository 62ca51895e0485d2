"""A sweep survives being interrupted: killed mid-way, ``--resume`` ends where an uninterrupted sweep ends.

``siting sweep`` runs in a child process on a small district (30 variants: budgets × elderly
weights). Once its progress log holds a finished variant it is stopped — SIGINT as Ctrl-C
sends, or SIGKILL, which no program can catch. The outputs of an earlier sweep in the same
folder must then be byte for byte as they were; ``--resume`` must solve only the variants the
log does not hold and end with ``frontier.csv``, ``robustness.csv`` and ``report.html``
byte-identical to an uninterrupted sweep's. The in-process tests check the log itself: a torn
last line, a log of another sweep, a fresh sweep over an interrupted one's log.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import districts as D  # noqa: N812 - the test helpers, short
from conftest import ROOT
from siting.data.scenario import load_scenario
from siting.errors import ResumeError
from siting.pipeline import prepare
from siting.studies.resolve import solve_many
from siting.studies.sweep import frontier_table, parse_vary, robustness_table, sweep_tasks, sweep_variants
from siting.studies.sweep_log import (
    ProgressLog,
    log_entry,
    log_header,
    log_path,
    read_log,
    resumable_entries,
    state_notes,
    sweep_identity,
    sweep_outputs,
)

VARY = ("--vary", "budget=1e6:4e6:10", "--vary", "weights.age_groups.elderly=1,2,4")
N_VARIANTS = 30
EARLIER = ("--vary", "budget=2e6,3e6")  # an earlier, finished sweep into the same folder
RESULTS = ("frontier.csv", "robustness.csv", "report.html")


def _sweep(scenario: Path, out: Path, *args: str, run: Path) -> subprocess.Popen[str]:
    """Start ``siting sweep`` in a child process; its output goes to files in ``run``."""
    run.mkdir(parents=True, exist_ok=True)
    stdout, stderr = open(run / "stdout", "w"), open(run / "stderr", "w")  # noqa: SIM115 - closed by the caller
    env = {**os.environ, "COLUMNS": "500"}  # long lines unwrapped
    return subprocess.Popen([sys.executable, "-m", "siting.cli", "sweep", str(scenario), *args, "--out", str(out)],
                            cwd=ROOT, stdout=stdout, stderr=stderr, text=True, env=env)


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


def _finish(proc: subprocess.Popen[str], run: Path) -> Finished:
    proc.wait(timeout=300)
    return Finished(proc.returncode, (run / "stdout").read_text(encoding="utf-8"),
                    (run / "stderr").read_text(encoding="utf-8"))


def _complete_lines(log: Path) -> int:
    try:
        return log.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@dataclass(frozen=True)
class Case:
    scenario: Path
    reference: dict[str, bytes]
    out: Path


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """The district, an uninterrupted sweep's results, and a folder holding an earlier sweep's outputs."""
    folder = tmp_path_factory.mktemp("resume")
    scenario = D.write(D.tables(seed=3, n_demand=40, n_sites=12), folder / "district")
    reference = folder / "reference"
    done = _finish(_sweep(scenario, reference, *VARY, run=folder / "run-reference"), folder / "run-reference")
    assert done.code == 0, done.stderr
    assert f"Solved {N_VARIANTS} of {N_VARIANTS} variants" in done.stdout
    out = folder / "out" / "sweep"
    earlier = _finish(_sweep(scenario, out, *EARLIER, run=folder / "run-earlier"), folder / "run-earlier")
    assert earlier.code == 0, earlier.stderr
    return Case(scenario, {name: (reference / name).read_bytes() for name in RESULTS}, out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_sweep_resumes_to_the_same_results(case: Case, sig: signal.Signals, tmp_path: Path) -> None:
    out, log = case.out, log_path(case.out)
    before = D.snapshot(out)
    proc = _sweep(case.scenario, out, *VARY, run=tmp_path / "interrupted")
    deadline = time.monotonic() + 240
    wanted = 3 if sig == signal.SIGKILL else 2  # the header and a finished variant (two: one is torn below)
    while _complete_lines(log) < wanted:
        assert proc.poll() is None, _finish(proc, tmp_path / "interrupted")
        assert time.monotonic() < deadline, "the sweep never recorded a variant"
        time.sleep(0.002)
    proc.send_signal(sig)
    stopped = _finish(proc, tmp_path / "interrupted")
    assert stopped.code != 0, "the sweep finished before the signal: nothing was tested"
    if sig == signal.SIGINT:
        assert stopped.code == 130, stopped.stderr
        assert "Traceback" not in stopped.stderr and "--resume" in stopped.stderr
    assert D.snapshot(out) == before  # the earlier outputs, byte for byte, while the sweep was stopped
    recorded = len(read_log(log).entries)
    assert wanted - 1 <= recorded < N_VARIANTS
    if sig == signal.SIGINT:  # what it says is what the log holds
        assert f"{recorded} of {N_VARIANTS} variants are recorded" in stopped.stderr

    if sig == signal.SIGKILL:  # as if killed while writing the last record: that line is cut in half
        data = log.read_bytes()
        last = data.rstrip(b"\n").rfind(b"\n") + 1
        log.write_bytes(data[:last + (len(data) - last) // 2])
        recorded -= 1
    else:  # a log of this sweep is not resumed by another sweep
        log_bytes = log.read_bytes()
        other = _finish(_sweep(case.scenario, out, *EARLIER, "--resume", run=tmp_path / "other"), tmp_path / "other")
        assert other.code == 2 and "Traceback" not in other.stderr, other.stderr
        assert "different sweep" in other.stderr and "--vary" in other.stderr and "drop --resume" in other.stderr
        assert log.read_bytes() == log_bytes and D.snapshot(out) == before

    resumed = _finish(_sweep(case.scenario, out, *VARY, "--resume", run=tmp_path / "resumed"), tmp_path / "resumed")
    assert resumed.code == 0, resumed.stderr
    assert f"resuming: {recorded} of {N_VARIANTS} variants recorded" in resumed.stdout
    assert f"Solved {N_VARIANTS - recorded} of {N_VARIANTS} variants" in resumed.stdout
    if sig == signal.SIGKILL:
        assert "cut off mid-write" in " ".join(resumed.stdout.split())
    for name in RESULTS:
        assert (out / name).read_bytes() == case.reference[name], name
    records = [json.loads(line) for line in (out / "variants.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == N_VARIANTS and len({r["variant"] for r in records}) == N_VARIANTS
    assert not log.exists() and not log.with_name(log.name + ".new").exists()


# --- the log itself, in process ---------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A three-budget sweep of a small district, solved in process: scenario, axes, keys, results."""
    scenario = load_scenario(D.write(D.tables(seed=5), tmp_path / "district"))
    axes = [parse_vary("budget=1e6,2e6,3e6")]
    tasks = sweep_tasks(sweep_variants(scenario, axes))
    return scenario, axes, [t.key for t in tasks], solve_many(tasks), prepare(scenario)


def _write_log(path: Path, scenario, axes, keys, results, groups) -> list[dict]:  # type: ignore[no-untyped-def]
    identity = sweep_identity(scenario, axes, None)
    with ProgressLog(path, log_header(identity, len(keys))) as log:
        return [log.append(log_entry(r, groups)) for r in results]


def test_outputs_from_the_log_are_those_of_the_results(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, axes, keys, results, base = small
    groups = base.catalogue.group_keys
    entries = _write_log(tmp_path / "log.jsonl", scenario, axes, keys, results, groups)
    read = read_log(tmp_path / "log.jsonl")
    assert list(read.entries) == keys and not read.torn and read.total == 3
    frontier, robustness, records = sweep_outputs(keys, read.entries, base, ["budget"])
    assert frontier.to_csv() == frontier_table(results, groups).to_csv()
    assert robustness.to_csv() == robustness_table(results, base).to_csv()
    assert [r["variant"] for r in records] == keys
    assert entries == list(read.entries.values())  # what a sweep keeps is what a resumed one reads back


def test_torn_and_unreadable_lines_are_ignored_with_a_note(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, axes, keys, results, base = small
    path = tmp_path / "log.jsonl"
    _write_log(path, scenario, axes, keys, results, base.catalogue.group_keys)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1] + b"{not json\n" + lines[2] + lines[3][:40])
    state = read_log(path)
    assert state.torn and state.unreadable == 1 and list(state.entries) == keys[:2]
    notes = " ".join(state_notes(state, resume=True, current=""))
    assert "cut off mid-write" in notes and "could not be read" in notes
    assert list(resumable_entries(state, sweep_identity(scenario, axes, None), keys)) == keys[:2]
    path.write_bytes(lines[0][:10])  # killed while writing the header: nothing finished
    state = read_log(path)
    assert state.torn and state.header is None and resumable_entries(state, {}, keys) == {}


def test_log_of_another_sweep_is_refused_naming_what_changed(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, axes, keys, results, base = small
    path = tmp_path / "log.jsonl"
    _write_log(path, scenario, axes, keys, results, base.catalogue.group_keys)
    state = read_log(path)
    with pytest.raises(ResumeError, match="--vary fields or values"):
        resumable_entries(state, sweep_identity(scenario, [parse_vary("budget=1e6,2e6")], None), keys)
    with pytest.raises(ResumeError, match="the solver"):
        resumable_entries(state, sweep_identity(scenario, axes, "pulp"), keys)
    sites = Path(scenario.data.sites)
    sites.write_text(sites.read_text(encoding="utf-8").replace("site 1", "site one"), encoding="utf-8")
    with pytest.raises(ResumeError, match=r"the sites file.*drop --resume.*or remove"):
        resumable_entries(state, sweep_identity(scenario, axes, None), keys)
    path.write_text("budget,cost\n1,2\n", encoding="utf-8")
    with pytest.raises(ResumeError, match="not the progress log"):
        resumable_entries(read_log(path), sweep_identity(scenario, axes, None), keys)


def test_fresh_sweep_keeps_an_interrupted_log_until_its_first_variant(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, axes, keys, results, base = small
    path = tmp_path / "log.jsonl"
    _write_log(path, scenario, axes, keys[:2], results[:2], base.catalogue.group_keys)
    before = path.read_bytes()
    header = log_header(sweep_identity(scenario, axes, None), 3)
    notes = state_notes(read_log(path), resume=False, current=header["fingerprint"])
    assert len(notes) == 1 and re.search(r"interrupted sweep of this scenario .* \(2 of 2 variants finished\); "
                                         r"rerun with --resume", notes[0])
    other = state_notes(read_log(path), resume=False, current="0" * 64)
    assert "other settings" in other[0] and "--resume" not in other[0]
    with pytest.raises(KeyboardInterrupt), ProgressLog(path, header):
        raise KeyboardInterrupt  # stopped before its first variant finished
    assert path.read_bytes() == before and not path.with_name(path.name + ".new").exists()
    with ProgressLog(path, header) as log:
        log.append(log_entry(results[2], base.catalogue.group_keys))
    assert list(read_log(path).entries) == [keys[2]]


def test_resume_without_a_log_solves_everything_and_fresh_run_names_the_log(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, axes, keys, results, base = small
    out = tmp_path / "out" / "sweep"
    done = D.cli("sweep", str(scenario.source), "--vary", "budget=1e6,2e6,3e6", "--out", str(out), "--resume")
    assert done.code == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "no interrupted sweep found" in text and "Solved 3 of 3 variants" in text
    log = log_path(out)
    _write_log(log, scenario, axes, keys[:1], results[:1], base.catalogue.group_keys)
    again = D.cli("sweep", str(scenario.source), "--vary", "budget=1e6,2e6,3e6", "--out", str(out))
    assert again.code == 0, again.stderr
    text = " ".join(again.stdout.split())
    assert "an interrupted sweep of this scenario was found" in text and "rerun with --resume" in text
    assert "Solved 3 of 3 variants" in text and not log.exists()
