"""Scenario files: the committed JSON Schema, every variant in scenarios/, extends, validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from siting.data.scenario import Scenario, load_scenario, scenario_json_schema
from test_cli import assert_user_error, siting

SCENARIOS = ROOT / "scenarios"
FAIRNESS_READY = "objective" in Scenario.model_fields
VARIANTS = ["baseline", "budget-x2", "elderly-first", "fairness", "median", "straight-line"]


def test_committed_schema_is_in_sync() -> None:
    committed = json.loads((SCENARIOS / "scenario.schema.json").read_text(encoding="utf-8"))
    assert committed == scenario_json_schema(), (
        "scenarios/scenario.schema.json is out of date: regenerate it with "
        "`.venv/bin/siting schema > scenarios/scenario.schema.json`")


def test_every_scenario_names_the_schema() -> None:
    for path in SCENARIOS.glob("*.yaml"):
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=scenario.schema.json"), path


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_exists_and_validates(name: str) -> None:
    path = SCENARIOS / f"{name}.yaml"
    assert path.is_file()
    if name == "fairness" and not FAIRNESS_READY:
        pytest.skip("scenario field 'objective' ({kind: fairness}) is not on this branch yet (issue 4A)")
    proc = siting("validate", str(path))
    assert proc.returncode == 0, proc.stderr


def test_extends_overrides_only_what_it_names() -> None:
    base = load_scenario(SCENARIOS / "jiangbei-yubei.yaml")
    x2 = load_scenario(SCENARIOS / "budget-x2.yaml")  # extends baseline.yaml, which extends jiangbei-yubei.yaml
    assert x2.name == "budget-x2" and x2.budget == 2 * base.budget
    assert x2.data == base.data and x2.walking == base.walking and x2.solver == base.solver
    elderly = load_scenario(SCENARIOS / "elderly-first.yaml")
    # mappings merge: the base's weights for the other groups stay
    assert elderly.weights.age_groups == {**base.weights.age_groups, "elderly": 3.0}
    assert elderly.weights.services == {"elderly_day_care": 2.0}
    line = load_scenario(SCENARIOS / "straight-line.yaml")
    assert line.walking.mode == "euclidean" and line.walking.snap_limit_m == base.walking.snap_limit_m


def test_extends_resolves_paths_relative_to_each_file(tmp_path: Path) -> None:
    sub = tmp_path / "variants"
    sub.mkdir()
    (sub / "v.yaml").write_text(yaml.safe_dump({"extends": str(SCENARIOS / "baseline.yaml"), "name": "v",
                                                "budget": 1e6}))
    v = load_scenario(sub / "v.yaml")
    assert Path(v.data.demand).is_file() and v.budget == 1e6


def test_validate_lists_every_problem_of_every_file(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump({"extends": str(SCENARIOS / "baseline.yaml"), "budgett": 1, "walking": {"mode": "x"}}))
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump({"extends": str(SCENARIOS / "baseline.yaml"), "services": ["karaoke"]}))
    proc = siting("validate", str(a), str(SCENARIOS / "baseline.yaml"), str(b))
    assert_user_error(proc, "a.yaml", "budgett", "walking.mode", "b.yaml", "karaoke")
    assert "✓" in proc.stdout and "baseline.yaml" in proc.stdout


def test_analysis_section_is_validated(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump({"extends": str(SCENARIOS / "baseline.yaml"),
                                 "analysis": {"robustness_samples": -1, "frontier": [0]}}))
    proc = siting("validate", str(a))
    assert_user_error(proc, "analysis.robustness_samples", "analysis.frontier.0")


@pytest.mark.skipif(not FAIRNESS_READY, reason="scenario field 'objective' ({kind: fairness}) is not on this "
                                                "branch yet (issue 4A); enable at merge")
def test_fairness_lifts_the_worst_covered_group() -> None:
    from siting.pipeline import run_scenario

    def worst_share(name: str) -> float:
        cov = run_scenario(load_scenario(SCENARIOS / f"{name}.yaml")).plan.coverage
        by = cov.groupby("age_group")[["population", "covered_after"]].sum()
        return float((by["covered_after"] / by["population"]).min())

    assert worst_share("fairness") >= worst_share("baseline") - 1e-9
