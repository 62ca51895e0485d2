"""A scenario that says what it means: its own age group and services, limits in metres, end to end.

The district is laid out by hand (UTM metres, straight-line walking, no detour) so that every
figure of the outputs can be checked by hand: coverage, compliance by community, the reasons a
basic service falls short, and the cost of a building converted in part.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from districts import cli

X0, Y0 = 620_000.0, 3_270_000.0


def _write(folder: Path, budget: float, **extra: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ["A1", "A2", "B1"], "community": ["东社区", "东社区", "西社区"],
                  "x": [X0, X0 + 1000, X0], "y": [Y0, Y0, Y0 + 2000],
                  "everyone": [100, 100, 50]}).to_csv(folder / "demand.csv", index=False)
    # the factory is priced in two parts: paid once, and per m² converted
    pd.DataFrame({"id": ["F1", "S2"], "name": ["factory", "shop"], "x": [X0 + 100, X0], "y": [Y0, Y0 + 2100],
                  "floor_area_m2": [3000, 200], "fixed_cost": [100_000, 50_000], "cost_per_m2": [500, 0],
                  "allowed": ["clinic;library", "clinic"]}).to_csv(folder / "sites.csv", index=False)
    raw = {"name": "own", "budget": budget,
           "data": {"demand": "demand.csv", "sites": "sites.csv", "crs": "EPSG:32648"},
           "walking": {"mode": "euclidean", "detour": 1.0},
           "catalogue": {"replace": True,
                         "age_groups": [{"key": "everyone", "name_zh": "居民", "name_en": "Everyone",
                                         "speed_m_s": 1.2}],
                         "services": [
                             {"key": "clinic", "name_zh": "诊所", "name_en": "Clinic", "radius_m": 300,
                              "floor_area_m2": 100, "fitout_yuan_per_m2": 1000, "serves": ["everyone"],
                              "category": "basic"},
                             {"key": "library", "name_zh": "图书室", "name_en": "Library", "radius_m": 1500,
                              "floor_area_m2": 150, "fitout_yuan_per_m2": 0, "serves": ["everyone"],
                              "category": "quality"}]},
           "analysis": {"ranking": False, "frontier": []}, **extra}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_own_group_own_services_limits_in_metres(tmp_path: Path) -> None:
    # clinic at F1: 100,000 + 500 × 100 m² + fit-out 100,000 = 250,000; at S2: 50,000 + 100,000 = 150,000;
    # library at F1 besides the clinic: 500 × 150 m² = 75,000. Budget: both clinics and the library.
    out = tmp_path / "out"
    res = cli("run", str(_write(tmp_path / "in", budget=475_000)), "--out", str(out))
    assert res.code == 0, res.stderr
    plan = pd.read_csv(out / "plan.csv")
    assert sorted(zip(plan["site_id"], plan["service"], strict=True)) == [
        ("F1", "clinic"), ("F1", "library"), ("S2", "clinic")]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["cost"] == pytest.approx(250_000 + 75_000 + 150_000)
    assert summary["objective_kind"] == "standards"
    cost = dict(zip(zip(plan["site_id"], plan["service"], strict=True), plan["cost"], strict=True))
    # the factory's fixed part shared by floor area used (100 : 150), plus the area at 500 yuan/m²
    assert cost["F1", "clinic"] == pytest.approx(100_000 * 100 / 250 + 500 * 100 + 100_000)
    assert cost["F1", "library"] == pytest.approx(100_000 * 150 / 250 + 500 * 150)
    cov = pd.read_csv(out / "coverage.csv").set_index("service")
    # clinic: A1 (100 m from F1) and B1 (100 m from S2) within 300 m; A2 is 900 m away
    assert cov.loc["clinic", "covered_after"] == 150 and cov.loc["clinic", "population"] == 250
    assert cov.loc["library", "covered_after"] == 200  # A1 and A2 within 1,500 m of F1; B1 is 2,000 m away
    comp = pd.read_csv(out / "compliance.csv").set_index(["community", "service"])
    assert comp.loc[("东社区", "clinic"), "share_after"] == pytest.approx(0.5)
    assert comp.loc[("西社区", "clinic"), "share_after"] == pytest.approx(1.0)
    assert not comp.loc[("东社区", "clinic"), "complies_after"]
    assert comp.loc[("西社区", "clinic"), "complies_after"]
    short = {s["service"]: s for s in summary["compliance"]["basic_services_short"]}
    assert short["clinic"]["share_after"] == pytest.approx(0.6)
    assert short["clinic"]["out_of_reach"] == pytest.approx(100.0)  # A2: no allowed site within 300 m
    assert short["clinic"]["left_out"] == pytest.approx(0.0)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="compliance-matrix"' in report and "东社区" in report


def test_a_big_building_converted_in_part(tmp_path: Path) -> None:
    # converting the whole factory (100,000 + 500 × 3,000 m²) would be 1.6 million; one clinic in it is 250,000
    out = tmp_path / "out"
    res = cli("run", str(_write(tmp_path / "in", budget=260_000,
                                requirements={"force_out": ["S2"]})), "--out", str(out))
    assert res.code == 0, res.stderr
    plan = pd.read_csv(out / "plan.csv")
    assert list(zip(plan["site_id"], plan["service"], strict=True)) == [("F1", "clinic")]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["cost"] == pytest.approx(250_000)


def test_warnings_name_services_no_site_can_give(tmp_path: Path) -> None:
    path = _write(tmp_path / "in", budget=475_000)
    sites = pd.read_csv(tmp_path / "in" / "sites.csv")
    sites["allowed"] = "clinic"  # nobody may host the library
    sites.to_csv(tmp_path / "in" / "sites.csv", index=False)
    res = cli("validate", str(path))
    assert res.code == 0, res.stderr
    text = " ".join(res.stdout.split())  # the console wraps long lines
    assert "Library (library) is in play but no row of the idle-asset ledger may host it" in text
