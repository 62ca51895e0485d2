"""A cost matrix instead of points and walking: the same plan as the points it came from, and clear errors.

The truth is the same tiny district given as points walked by straight line (detour 1.0): its
cost matrix is computed here with numpy from the same coordinates, and written long and wide,
as CSV and Parquet, in metres and in minutes. Every form must give the same coverage and the
same plan as the points. A district with no coordinates at all runs through ``siting run``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import legacy_catalogue
from conftest import ROOT
from siting import load_scenario, run_scenario
from siting.data.catalogue import default_catalogue
from siting.data.district import load_district
from siting.errors import ScenarioError, SitingError
from siting.pipeline import prepare
from siting.walking.matrix import cost_reach

SERVICES = ("health_station", "canteen", "elderly_day_care")
#: Pairs further than this are left out of the long tables and empty in the wide ones: beyond every
#: limit of the legacy catalogue (canteen: 10 min at 1.25 m/s = 750 m), so the plan cannot change.
LEFT_OUT_M = 800.0


def _district(folder: Path, seed: int = 7, n: int = 30, m: int = 9) -> dict[str, Any]:
    """A tiny district's tables (x/y metres) in ``folder``, and the copies without coordinates."""
    rng = np.random.default_rng(seed)
    dxy, sxy, exy = (rng.uniform(0, 1200, (k, 2)).round(1) for k in (n, m, 3))
    demand = pd.DataFrame({"id": [f"D{i}" for i in range(n)], "x": dxy[:, 0], "y": dxy[:, 1],
                           "children": rng.integers(0, 60, n), "working": rng.integers(0, 200, n),
                           "elderly": rng.integers(0, 90, n)})
    area = rng.choice([150.0, 300.0, 420.0, 700.0], m)
    cost = np.round(area * rng.uniform(800, 1600, m), -3)
    sites = pd.DataFrame({"id": [f"S{j}" for j in range(m)], "x": sxy[:, 0], "y": sxy[:, 1],
                          "floor_area_m2": area, "retrofit_cost": cost})
    existing = pd.DataFrame({"id": ["E0", "E1", "E2"], "service": ["health_station", "elderly_day_care", "canteen"],
                             "x": exy[:, 0], "y": exy[:, 1]})
    for name, table in (("demand", demand), ("sites", sites), ("existing", existing)):
        table.to_csv(folder / f"{name}.csv", index=False)
        table.drop(columns=["x", "y"]).to_csv(folder / f"{name}_ids.csv", index=False)
    return {"dxy": dxy, "sxy": sxy, "exy": exy, "demand": demand["id"].to_numpy(), "sites": sites["id"].to_numpy(),
            "existing": existing["id"].to_numpy(), "budget": float(0.4 * cost.sum())}


def _metres(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Straight-line metres between every point of ``a`` and of ``b`` (the independent truth)."""
    out: np.ndarray = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return out


def _long(d: dict[str, Any], to: str, *, scale: float = 1.0, names: tuple[str, str, str] = ("demand", "site", "cost")
          ) -> pd.DataFrame:
    """One row per pair within ``LEFT_OUT_M``; ``to``: sites, existing, or both."""
    xy = {"sites": d["sxy"], "existing": d["exy"], "both": np.vstack([d["sxy"], d["exy"]])}[to]
    ids = {"sites": d["sites"], "existing": d["existing"], "both": np.concatenate([d["sites"], d["existing"]])}[to]
    dist = _metres(d["dxy"], xy)
    i, j = np.nonzero(dist <= LEFT_OUT_M)
    return pd.DataFrame({names[0]: d["demand"][i], names[1]: ids[j], names[2]: dist[i, j] * scale})


def _wide(d: dict[str, Any], to: str) -> pd.DataFrame:
    xy, ids = (d["sxy"], d["sites"]) if to == "sites" else (d["exy"], d["existing"])
    dist = _metres(d["dxy"], xy)
    frame = pd.DataFrame(np.where(dist <= LEFT_OUT_M, dist, np.nan), columns=list(ids))
    frame.insert(0, "demand", d["demand"])
    return frame


def _write(frame: pd.DataFrame, path: Path) -> str:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path.name


def _scenario(folder: Path, d: dict[str, Any], name: str, *, coordinates: bool = True, **data: Any) -> Path:
    suffix = "" if coordinates else "_ids"
    raw: dict[str, Any] = {
        "name": name,
        "data": {"demand": f"demand{suffix}.csv", "sites": f"sites{suffix}.csv", "existing": f"existing{suffix}.csv",
                 **({"crs": "EPSG:32648"} if coordinates else {}), **data},
        "services": list(SERVICES), "budget": d["budget"], "walking": {"mode": "euclidean", "detour": 1.0},
        "solver": {"time_limit_s": 30, "mip_gap": 0.0},
        "analysis": {"robustness_samples": 0, "frontier": [0.5, 2.0]},
        **legacy_catalogue.scenario_fields(SERVICES),
    }
    if "cost_matrix" in data:
        raw.pop("walking")
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("matrix")
    return folder, _district(folder)


@pytest.fixture(scope="module")
def by_points(tiny: tuple[Path, dict[str, Any]]) -> Any:
    folder, d = tiny
    return run_scenario(load_scenario(_scenario(folder, d, "points")))


def _forms(folder: Path, d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each way of giving the same costs: data fields of a scenario."""
    forms: dict[str, dict[str, Any]] = {}
    for suffix in (".csv", ".parquet"):
        kind = suffix[1:]
        forms[f"long-{kind}-one-table"] = {"cost_matrix": {
            "path": _write(_long(d, "both"), folder / f"long-both{suffix}"), "existing": True}}
        forms[f"long-{kind}-two-tables"] = {
            "cost_matrix": _write(_long(d, "sites"), folder / f"long-sites{suffix}"),
            "cost_matrix_existing": _write(_long(d, "existing"), folder / f"long-existing{suffix}")}
        forms[f"wide-{kind}"] = {
            "cost_matrix": {"path": _write(_wide(d, "sites"), folder / f"wide-sites{suffix}"), "format": "wide"},
            "cost_matrix_existing": _write(_wide(d, "existing"), folder / f"wide-existing{suffix}")}
    forms["long-minutes-own-columns"] = {"cost_matrix": {
        "path": _write(_long(d, "both", scale=1 / 60, names=("楼栋", "设施", "分钟")), folder / "minutes.csv"),
        "demand": "楼栋", "site": "设施", "cost": "分钟", "unit": "min", "existing": True, "format": "long"}}
    return forms


FORMS = ("long-csv-one-table", "long-csv-two-tables", "wide-csv", "long-parquet-one-table",
         "long-parquet-two-tables", "wide-parquet", "long-minutes-own-columns")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("coordinates", [True, False], ids=["with-xy", "ids-only"])
def test_a_cost_matrix_gives_the_plan_of_its_points(tiny: tuple[Path, dict[str, Any]], by_points: Any, form: str,
                                                    coordinates: bool) -> None:
    folder, d = tiny
    path = _scenario(folder, d, f"{form}-{coordinates}", coordinates=coordinates, **_forms(folder, d)[form])
    run = run_scenario(load_scenario(path))
    a, b = by_points.prepared, run.prepared
    assert b.walking.mode == "matrix"
    assert b.district.located is coordinates
    for reach_a, reach_b in zip(a.coverage.reach, b.coverage.reach, strict=True):
        assert (reach_a != reach_b).nnz == 0
    for base_a, base_b in zip(a.coverage.baseline, b.coverage.baseline, strict=True):
        assert np.array_equal(base_a, base_b)
    assert np.array_equal(a.distances.sites.origin, b.distances.sites.origin)
    assert np.array_equal(a.distances.sites.destination, b.distances.sites.destination)
    assert np.allclose(a.distances.sites.metres, b.distances.sites.metres, rtol=1e-9, atol=1e-9)
    assert run.plan.status == by_points.plan.status
    assert run.plan.objective == pytest.approx(by_points.plan.objective, rel=1e-9)
    assert np.array_equal(run.plan.hosts, by_points.plan.hosts)
    assert by_points.plan.hosts.sum() >= 2  # a plan worth comparing
    if "minutes" in form:
        assert any("converted to walking metres at the catalogue's reference speed, 1 m/s" in n
                   for n in b.walking.notes)
    if not coordinates:
        assert any("no map is drawn" in n for n in b.walking.notes)


def test_reach_is_sorted_and_cut_without_loops() -> None:
    from siting.data.cost_matrix import PairCosts

    costs = PairCosts(np.array([2, 0, 1, 0]), np.array([0, 1, 0, 0]), np.array([5.0, 900.0, 0.0, 30.0]),
                      np.array(["a", "b", "c"], dtype=object), np.array(["s", "t"], dtype=object))
    reach = cost_reach(costs, np.array(["c", "a", "b"], dtype=object), np.array(["t", "s"], dtype=object),
                       cutoff_m=500.0)
    # renumbered to the new order (c, a, b) and (t, s); the 900 m pair is beyond the cutoff; zero is kept
    assert reach.origin.tolist() == [0, 1, 2]
    assert reach.destination.tolist() == [1, 1, 1]
    assert reach.metres.tolist() == [5.0, 30.0, 0.0]
    assert reach.shape == (3, 2)


def _errors(folder: Path, d: dict[str, Any], name: str, **data: Any) -> str:
    scenario = load_scenario(_scenario(folder, d, name, coordinates=False, **data))
    with pytest.raises(SitingError) as e:
        load_district(scenario, _catalogue(scenario))
    return str(e.value)


def _catalogue(scenario: Any) -> Any:
    from siting.pipeline.prepare import catalogue_for

    return catalogue_for(scenario)


def test_unknown_ids_are_named_with_their_file_column_and_rows(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    long = _long(d, "both")
    long.loc[3, "demand"] = "D99"
    long.loc[5, "site"] = "S77"
    msg = _errors(folder, d, "unknown", cost_matrix={"path": _write(long, folder / "unknown.csv"), "existing": True})
    assert "unknown.csv, column 'demand', row 4" in msg and "'D99'" in msg and "data.demand (demand_ids.csv" in msg
    assert "unknown.csv, column 'site', row 6" in msg and "'S77'" in msg and "data.sites" in msg
    wide = _wide(d, "sites").rename(columns={"S3": "S33"})
    msg = _errors(folder, d, "unknown-wide", cost_matrix=_write(wide, folder / "unknown-wide.csv"),
                  cost_matrix_existing=_write(_wide(d, "existing"), folder / "wide-e.csv"))
    assert "unknown-wide.csv, column(s) ['S33']" in msg and "not in data.sites" in msg
    # existing facilities' ids among the sites without existing: true: the fix says so
    msg = _errors(folder, d, "no-flag", cost_matrix=_write(long.drop(index=[3, 5]), folder / "no-flag.csv"))
    assert "is an existing facility of existing_ids.csv" in msg and "existing: true" in msg


def test_pairs_given_twice_and_bad_costs_are_refused(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    long = _long(d, "both")
    twice = pd.concat([long, long.iloc[[2]]], ignore_index=True)
    msg = _errors(folder, d, "twice", cost_matrix={"path": _write(twice, folder / "twice.csv"), "existing": True})
    assert "twice.csv, columns 'demand' and 'site', rows 3, " in msg and "more than once" in msg
    bad = long.astype({"cost": object})
    bad.loc[1, "cost"] = -12.5
    bad.loc[4, "cost"] = "far"
    bad.loc[6, "cost"] = ""
    msg = _errors(folder, d, "bad", cost_matrix={"path": _write(bad, folder / "bad.csv"), "existing": True})
    assert "bad.csv, column 'cost', row 2 (id 'D" in msg and "value -12.5 is negative" in msg
    assert "bad.csv, column 'cost', row 5" in msg and "value 'far' is not a number" in msg
    assert "bad.csv, column 'cost', row 7" in msg and "empty cost" in msg
    wide = _wide(d, "sites").astype(object)
    wide.loc[2, "S1"] = -1
    wide = pd.concat([wide, wide.iloc[[0]]], ignore_index=True)
    msg = _errors(folder, d, "bad-wide", cost_matrix=_write(wide, folder / "bad-wide.parquet"),
                  cost_matrix_existing=_write(_wide(d, "existing"), folder / "wide-e2.csv"))
    assert "bad-wide.parquet, column(s) ['S1'], row 3" in msg and "is negative" in msg
    assert "more than one row" in msg and "bad-wide.parquet, column 'demand', rows 1, " in msg


def test_what_the_matrix_leaves_out_is_noted(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    long = _long(d, "both")
    long = long[~long["demand"].isin(["D0", "D1"]) & (long["site"] != "S2")]
    scenario = load_scenario(_scenario(folder, d, "left-out", coordinates=False,
                                       cost_matrix={"path": _write(long, folder / "left-out.csv"),
                                                    "existing": True}))
    district = load_district(scenario, _catalogue(scenario))
    notes = "\n".join(district.notes)
    assert "2 of 30 demand points are not in the cost matrix left-out.csv and reach nothing from it: D0, D1" in notes
    assert "1 of 9 candidate sites are not in the cost matrix left-out.csv and cover no one: S2" in notes
    assert "read as a long cost matrix" in notes


def test_existing_facilities_need_their_costs(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    msg = _errors(folder, d, "no-existing", cost_matrix=_write(_long(d, "sites"), folder / "sites-only.csv"))
    assert "existing_ids.csv: 3 existing facilities, but the cost matrix gives no costs to them" in msg
    assert "data.cost_matrix_existing" in msg


def test_the_format_cannot_be_guessed_from_unnamed_columns(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    frame = _long(d, "both", names=("from", "to", "metres"))
    msg = _errors(folder, d, "unnamed", cost_matrix={"path": _write(frame, folder / "unnamed.csv"), "existing": True})
    assert "field 'data.cost_matrix.format': cannot tell the format" in msg and "demand: <demand id column>" in msg


def test_walking_mode_matrix_and_the_fields_a_matrix_makes_moot(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    path = _scenario(folder, d, "mode", coordinates=False,
                     cost_matrix={"path": _write(_long(d, "both"), folder / "mode.csv"), "existing": True})
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["walking"] = {"mode": "network", "slope": False}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    prepared = prepare(load_scenario(path))
    assert prepared.walking.mode == "matrix"
    assert ("walking.mode, walking.slope are not used: the walking costs come from data.cost_matrix "
            "(walking.mode: matrix)") in prepared.walking.notes
    raw["walking"] = {"mode": "matrix"}
    raw["data"].pop("cost_matrix")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"walking\.mode 'matrix' needs data\.cost_matrix"):
        load_scenario(path)


def test_coordinates_of_only_some_tables_draw_no_map(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    path = _scenario(folder, d, "some-xy", cost_matrix={"path": _write(_long(d, "both"), folder / "some.csv"),
                                                        "existing": True})
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"]["demand"] = "demand_ids.csv"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    scenario = load_scenario(path)
    district = load_district(scenario, _catalogue(scenario))
    assert not district.located and np.isnan(district.sites.xy).all()
    assert ("no map is drawn: demand_ids.csv has no coordinates (the cost matrix gives the walking costs); the "
            "coordinates of sites.csv, existing.csv are not used") in "\n".join(district.notes)
    from siting.city.files import CircleOptions, split_city

    with pytest.raises(SitingError, match="split into life circles by where its buildings and sites are"):
        split_city(district, CircleOptions(), path)


def test_points_are_still_required_without_a_matrix(tiny: tuple[Path, dict[str, Any]]) -> None:
    folder, d = tiny
    scenario = load_scenario(_scenario(folder, d, "no-xy", coordinates=False))
    with pytest.raises(SitingError, match="no coordinate columns"):
        load_district(scenario, default_catalogue())


def _siting(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "siting.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_a_district_without_coordinates_runs_through_siting_run(tiny: tuple[Path, dict[str, Any]], by_points: Any,
                                                                tmp_path: Path) -> None:
    folder, d = tiny
    path = _scenario(folder, d, "ids-only", coordinates=False,
                     cost_matrix={"path": _write(_long(d, "both"), folder / "ids-only.csv"), "existing": True})
    out = tmp_path / "out"
    proc = _siting("run", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in ("summary.json", "plan.csv", "plan.gpkg", "coverage.csv", "compliance.csv", "report.html",
                 "ranking.csv", "alternatives.csv", "frontier.csv"):
        assert (out / name).is_file(), name
    assert not (out / "map.png").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["walking"]["mode"] == "matrix"
    assert summary["objective"] == pytest.approx(by_points.plan.objective, rel=1e-6)
    assert "ids-only.csv" in json.dumps(summary["inputs"])
    plan = pd.read_csv(out / "plan.csv")
    chosen = by_points.plan.assignments
    assert sorted(zip(plan["site_id"], plan["service"], strict=True)) == sorted(
        zip(chosen["site_id"], chosen["service"], strict=True))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="no-map"' in html and "No map: the tables have no coordinates" in html
    assert '<div id="map"' not in html and 'id="siting-map-data"' not in html
    import pyogrio

    layer = pyogrio.read_dataframe(out / "plan.gpkg", read_geometry=False)
    assert sorted(layer["site_id"]) == sorted(plan["site_id"])
    proc = _siting("validate", str(path))
    assert proc.returncode == 0, proc.stderr


def test_a_bad_matrix_exits_2_without_a_traceback(tiny: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    folder, d = tiny
    long = _long(d, "both")
    long.loc[0, "cost"] = -5
    path = _scenario(folder, d, "cli-bad", coordinates=False,
                     cost_matrix={"path": _write(long, folder / "cli-bad.csv"), "existing": True})
    proc = _siting("run", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cli-bad.csv, column 'cost', row 1" in proc.stderr and "is negative" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_workbench_refuses_a_district_it_cannot_draw(tiny: tuple[Path, dict[str, Any]]) -> None:
    from siting.serve.views import prepare_base

    folder, d = tiny
    path = _scenario(folder, d, "serve", coordinates=False,
                     cost_matrix={"path": _write(_long(d, "both"), folder / "serve.csv"), "existing": True})
    with pytest.raises(ScenarioError, match="the workbench shows the plan on a map"):
        prepare_base(load_scenario(path))
