"""Same inputs, same plan: the default scenario run twice gives byte-identical plan and coverage files.

The two runs are separate processes with different hash seeds (so that nothing may depend on
the order of a set or a dict of strings). ``summary.json`` must name the versions of siting and
the solver and the SHA-256 of every input, checked here against hashlib on the files themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import siting
from conftest import DEFAULT_SCENARIO, ROOT


def _run(out: Path, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, "-m", "siting.cli", "run", str(DEFAULT_SCENARIO), "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("reproducible")
    a, b = base / "a", base / "b"
    _run(a, "1")
    _run(b, "4242")
    return a, b


def test_default_scenario_twice_gives_identical_plan_and_coverage(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    for name in ("plan.csv", "coverage.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert len((a / "plan.csv").read_text(encoding="utf-8").splitlines()) > 2  # a plan, not an empty table


def test_summary_records_versions_and_input_hashes(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    summary = json.loads((a / "summary.json").read_text(encoding="utf-8"))
    versions = summary["versions"]
    assert versions["siting"] == siting.__version__
    assert versions["highspy"] == metadata.version("highspy")
    assert versions["solver"].startswith("HiGHS ")
    for package in ("numpy", "scipy", "pandas", "pyproj"):
        assert versions[package] == metadata.version(package)
    data = DEFAULT_SCENARIO.parent.parent / "data" / "jiangbei-yubei"
    expected = {
        "scenario": DEFAULT_SCENARIO, "demand": data / "demand.csv", "sites": data / "sites.csv",
        "existing": data / "existing.csv", "network_nodes": data / "network_nodes.csv",
        "network_edges": data / "network_edges.csv",
    }
    assert set(summary["inputs"]) == set(expected)
    for role, path in expected.items():
        assert Path(summary["inputs"][role]["path"]) == path.resolve()
        assert summary["inputs"][role]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), role
    assert summary["solver_options"]["threads"] == 1 and summary["solver_options"]["seed"] == 0
    other = json.loads((b / "summary.json").read_text(encoding="utf-8"))
    assert other["inputs"] == summary["inputs"] and other["objective"] == summary["objective"]


def test_extended_scenarios_record_every_file_of_the_chain(tmp_path: Path) -> None:
    from siting.data.scenario import load_scenario
    from siting.pipeline.provenance import input_files

    child = tmp_path / "variant.yaml"
    child.write_text(f"extends: {DEFAULT_SCENARIO}\nname: variant\nbudget: 9000000\n", encoding="utf-8")
    files = input_files(load_scenario(child))
    assert files["scenario"] == child.resolve()
    assert files["scenario_extends_1"] == DEFAULT_SCENARIO.resolve()
