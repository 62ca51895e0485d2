"""The command line on the default scenario, and its answers to bad input (exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_SCENARIO, ROOT


def siting(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "siting.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "jiangbei"
    proc = siting("run", str(DEFAULT_SCENARIO), "--out", str(out), "--no-analysis")
    assert proc.returncode == 0, proc.stderr
    assert "report.html" in proc.stdout
    return out


def test_default_scenario_writes_every_output(default_run: Path) -> None:
    for name in ("summary.json", "plan.csv", "plan.gpkg", "coverage.csv", "compliance.csv", "report.html",
                 "map.png"):
        assert (default_run / name).is_file(), name
    summary = json.loads((default_run / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["gap"] <= 1e-4
    assert summary["cost"] <= summary["budget"]
    assert summary["bound"] >= summary["objective"] - 1e-6
    plan = pd.read_csv(default_run / "plan.csv")
    assert {"site_id", "site_name", "service", "floor_area_m2", "cost"} <= set(plan.columns)
    assert plan["cost"].sum() == pytest.approx(summary["cost"], abs=1.0)
    cov = pd.read_csv(default_run / "coverage.csv")
    assert list(cov.columns[:8]) == ["service", "service_zh", "category", "age_group", "population",
                                     "covered_before", "covered_after", "share_before"]
    assert (cov["covered_after"] >= cov["covered_before"]).all()
    assert (cov["served_after"] <= cov["covered_after"] + 0.05).all()  # places never serve beyond the reach
    # the plan's objective (standards first, basic stage): each basic service's residents newly served as a
    # share of its own target population, summed (all weights 1 in the default scenario)
    basic = cov[cov["category"] == "basic"]
    per_service = basic.groupby("service")[["served_after", "covered_before", "population"]].sum()
    shares = (per_service["served_after"] - per_service["covered_before"]) / per_service["population"]
    assert shares.sum() == pytest.approx(summary["objective"], rel=1e-4)
    assert [s["stage"] for s in summary["stages"]] == ["gaps", "basic", "quality"]


def test_report_names_the_plan(default_run: Path) -> None:
    html = (default_run / "report.html").read_text(encoding="utf-8")
    plan = pd.read_csv(default_run / "plan.csv")
    for site in plan["site_id"].unique():
        assert site in html
    assert "optimal" in html


def _copy_scenario(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    data = raw["data"]
    for key in ("demand", "sites", "existing"):
        data[key] = str((DEFAULT_SCENARIO.parent / data[key]).resolve())
    data["network"] = {k: str((DEFAULT_SCENARIO.parent / v).resolve()) for k, v in data["network"].items()}
    raw.update(changes)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in proc.stderr, (f, proc.stderr)


def test_missing_file_is_named(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    path = _copy_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["sites"] = str(tmp_path / "no-such-sites.csv")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    out = tmp_path / "out"
    proc = siting("run", str(path), "--out", str(out))
    assert_user_error(proc, "no-such-sites.csv", "data.sites")
    assert not out.exists()


def test_missing_column_is_named(tmp_path: Path) -> None:
    sites = pd.read_csv(ROOT / "data" / "jiangbei-yubei" / "sites.csv").drop(columns=["floor_area_m2"])
    sites.to_csv(tmp_path / "sites.csv", index=False)
    path = _copy_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["sites"] = str(tmp_path / "sites.csv")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    proc = siting("run", str(path), "--out", str(tmp_path / "out"))
    assert_user_error(proc, "sites.csv", "floor_area_m2")


def test_unknown_service_key_is_named(tmp_path: Path) -> None:
    path = _copy_scenario(tmp_path, services=["health_station", "karaoke_hall"])
    proc = siting("run", str(path), "--out", str(tmp_path / "out"))
    assert_user_error(proc, "karaoke_hall", "services")


def test_unknown_allowed_service_in_ledger_is_named(tmp_path: Path) -> None:
    sites = pd.read_csv(ROOT / "data" / "jiangbei-yubei" / "sites.csv")
    sites.loc[3, "allowed"] = "canteen;bowling_alley"
    sites.to_csv(tmp_path / "sites.csv", index=False)
    path = _copy_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["sites"] = str(tmp_path / "sites.csv")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    proc = siting("run", str(path), "--out", str(tmp_path / "out"))
    assert_user_error(proc, "bowling_alley", "allowed", "row 4")


def test_unknown_scenario_field_is_named(tmp_path: Path) -> None:
    path = _copy_scenario(tmp_path, budgett=5)
    proc = siting("validate", str(path))
    assert_user_error(proc, "budgett", "unknown field")


def test_validate_default_scenario() -> None:
    proc = siting("validate", str(DEFAULT_SCENARIO))
    assert proc.returncode == 0, proc.stderr
    assert "demand points" in proc.stdout


def test_schema_is_json() -> None:
    proc = siting("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert "budget" in schema["properties"]
