"""Census by community spread onto buildings, community polygons refused as demand, and the needs list.

Every figure is checked against a hand calculation: a community's residents × a building's
share of its community's floor area (or households); the needs multiplier 1 + need / mean need.
Age groups are taken from the catalogue, never named here.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from pyproj import Transformer
from shapely.geometry import box

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.catalogue import default_catalogue
from siting.data.district import load_district
from siting.data.scenario import load_scenario
from siting.pipeline import catalogue_for, run_scenario

DEG = 1 / 111_000
GROUPS = default_catalogue().age_groups


def _ledger(folder: Path, lon: list[float], lat: list[float], allowed: str = "") -> None:
    n = len(lon)
    pd.DataFrame({"id": [f"S{j}" for j in range(n)], "lon": lon, "lat": lat, "floor_area_m2": 900.0,
                  "retrofit_cost": 900_000.0, "allowed": allowed}).to_csv(folder / "sites.csv", index=False)


def _scenario(folder: Path, data: dict[str, object], **extra: object) -> Path:
    raw = {"name": "census", "budget": 2_000_000.0, "walking": {"mode": "euclidean"},
           "services": ["elderly_day_care", "canteen"], "solver": {"mip_gap": 0.0},
           "data": {"demand": "buildings.csv", "sites": "sites.csv", **data}, **extra}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _census(folder: Path, rows: dict[str, list[float]]) -> None:
    """Census with Chinese headers: 社区 and each age group's Chinese name from the catalogue."""
    pd.DataFrame({"社区": list(rows), **{g.name_zh: [rows[c][k] for c in rows] for k, g in enumerate(GROUPS)}}
                 ).to_csv(folder / "census.csv", index=False)


def test_census_spread_by_floor_area_by_hand(tmp_path: Path) -> None:
    counts = {"观音桥社区": [30.0 + 10 * k for k in range(len(GROUPS))],
              "华新街社区": [12.0 + 4 * k for k in range(len(GROUPS))]}
    _census(tmp_path, counts)
    pd.DataFrame({"编号": ["A1", "A2", "B1"], "经度": [D.LON0, D.LON0 + 200 * DEG, D.LON0 + 400 * DEG],
                  "纬度": [D.LAT0] * 3, "社区": ["观音桥社区", "观音桥社区", "华新街社区"],
                  "建筑面积": [1000.0, 3000.0, 500.0]}).to_csv(tmp_path / "buildings.csv", index=False)
    _ledger(tmp_path, [D.LON0 + 100 * DEG], [D.LAT0])
    sc = load_scenario(_scenario(tmp_path, {"census": "census.csv"}))
    district = load_district(sc, catalogue_for(sc))
    a, b = np.array(counts["观音桥社区"]), np.array(counts["华新街社区"])
    expected = np.vstack([a * 1000 / 4000, a * 3000 / 4000, b * 500 / 500])  # floor-area shares 1/4, 3/4, 1
    np.testing.assert_allclose(district.demand.population, expected)
    assert list(district.demand.community) == ["观音桥社区", "观音桥社区", "华新街社区"]
    total = a.sum() + b.sum()
    note = next(n for n in district.notes if "spread over 3 buildings by floor area" in n)
    assert f"{total:,.0f} residents of 2 communities spread over 3 buildings by floor area; totals before " \
           f"{total:,.0f} and after {total:,.0f}" in note


def test_census_joined_by_community_polygons_spread_by_households(tmp_path: Path) -> None:
    counts = {"C1": [100.0] * len(GROUPS), "C2": [40.0] * len(GROUPS)}
    pd.DataFrame({"community": list(counts), "population": [sum(v) for v in counts.values()]}
                 ).to_csv(tmp_path / "census.csv", index=False)
    # two areas side by side, 500 m wide each
    areas = gpd.GeoDataFrame({"社区名称": ["C1", "C2"]}, geometry=[
        box(D.LON0, D.LAT0, D.LON0 + 500 * DEG, D.LAT0 + 500 * DEG),
        box(D.LON0 + 500 * DEG, D.LAT0, D.LON0 + 1000 * DEG, D.LAT0 + 500 * DEG)], crs=4326)
    areas.to_file(tmp_path / "communities.gpkg")
    pd.DataFrame({"id": ["b1", "b2", "b3"], "lon": [D.LON0 + 100 * DEG, D.LON0 + 300 * DEG, D.LON0 + 700 * DEG],
                  "lat": [D.LAT0 + 250 * DEG] * 3, "户数": [30, 10, 25]}).to_csv(tmp_path / "buildings.csv",
                                                                               index=False)
    _ledger(tmp_path, [D.LON0 + 500 * DEG], [D.LAT0 + 250 * DEG])
    sc = load_scenario(_scenario(tmp_path, {"census": {"path": "census.csv", "areas": "communities.gpkg",
                                                       "spread": "households"}}))
    district = load_district(sc, catalogue_for(sc))
    shares = np.array([g.census_share or 0.0 for g in GROUPS])
    shares = shares / shares.sum()
    c1, c2 = sum(counts["C1"]) * shares, sum(counts["C2"]) * shares
    np.testing.assert_allclose(district.demand.population, np.vstack([c1 * 30 / 40, c1 * 10 / 40, c2]))
    assert list(district.demand.community) == ["C1", "C1", "C2"]


def test_census_problems_lose_nobody(tmp_path: Path) -> None:
    _census(tmp_path, {"A": [10.0] * len(GROUPS), "B": [5.0] * len(GROUPS)})
    pd.DataFrame({"id": ["x1", "x2"], "lon": [D.LON0, D.LON0 + 100 * DEG], "lat": [D.LAT0] * 2,
                  "community": ["A", "Z"], "floor_area_m2": [100.0, 100.0]}).to_csv(tmp_path / "buildings.csv",
                                                                                    index=False)
    _ledger(tmp_path, [D.LON0], [D.LAT0])
    checked = D.cli("validate", str(_scenario(tmp_path, {"census": "census.csv"})))
    assert checked.code == 2
    err = checked.stderr.replace("\n", "")
    assert "buildings.csv, column 'community', row 2 (id 'x2'): community 'Z' is not in the census census.csv" in err
    assert (f"{tmp_path / 'census.csv'}, column 'community', row 2: 1 communit(ies) (B) have {5 * len(GROUPS):,.0f} "
            f"residents but no building with floor_area_m2 in buildings.csv; they would be lost") in err


def test_community_polygons_as_demand_are_refused_with_the_fix(tmp_path: Path) -> None:
    x0, y0 = Transformer.from_crs(4326, 32648, always_xy=True).transform(D.LON0, D.LAT0)
    blocks = gpd.GeoDataFrame({"id": ["C1", "C2"], **{g.key: [500, 300] for g in GROUPS}}, geometry=[
        box(x0, y0, x0 + 600, y0 + 600), box(x0 + 600, y0, x0 + 1200, y0 + 500)], crs=32648)  # 36 ha and 30 ha
    blocks.to_file(tmp_path / "communities.gpkg")
    _ledger(tmp_path, [D.LON0 + 300 * DEG], [D.LAT0 + 300 * DEG])
    checked = D.cli("validate", str(_scenario(tmp_path, {"demand": "communities.gpkg"})))
    assert checked.code == 2
    err = checked.stderr.replace("\n", "")
    assert ("communities.gpkg, column 'geometry', rows 1, 2 (ids 'C1', 'C2'): polygons of up to 36.0 ha are areas "
            "(communities, blocks), not buildings (more than 20,000 m²); one point each would put every resident at "
            "the middle of the area. Give the residential buildings as data.demand and these areas as the census: "
            "data.census: {path: <population by community>, areas: communities.gpkg}") in err, err
    # building footprints (30 m × 20 m) are fine
    small = blocks.assign(geometry=[box(x0, y0, x0 + 30, y0 + 20), box(x0 + 100, y0, x0 + 130, y0 + 20)])
    small.to_file(tmp_path / "communities.gpkg")
    assert D.cli("validate", str(tmp_path / "scenario.yaml")).code == 0


def _two_communities(folder: Path) -> None:
    """Community A (100 residents per group) beside site S0, B (60 per group) beside site S1, 2 km apart."""
    pd.DataFrame({"id": ["a", "b"], "lon": [D.LON0, D.LON0 + 2000 * DEG], "lat": [D.LAT0] * 2,
                  "community": ["A", "B"], **{g.key: [100.0, 60.0] for g in GROUPS}}
                 ).to_csv(folder / "buildings.csv", index=False)
    _ledger(folder, [D.LON0 + 50 * DEG, D.LON0 + 2050 * DEG], [D.LAT0] * 2, allowed="日间照料")


def test_needs_list_weights_by_hand_and_the_plan_they_change(tmp_path: Path) -> None:
    _two_communities(tmp_path)
    budget = 900_000.0 + 350 * 1500 + 1  # one site and one day care centre: A or B, not both
    plain = run_scenario(load_scenario(_scenario(tmp_path, {}, budget=budget, services=["elderly_day_care"])))
    assert list(plain.plan.assignments["site_id"]) == ["S0"]  # A has more residents
    pd.DataFrame({"社区": ["B", "A", "B"], "服务": ["日间照料", "食堂", "社区食堂"], "需求": [6, 2, 4]}
                 ).to_csv(tmp_path / "needs.csv", index=False)
    path = _scenario(tmp_path, {"needs": "needs.csv"}, budget=budget, services=["elderly_day_care", "canteen"])
    sc = load_scenario(path)
    district = load_district(sc, catalogue_for(sc))
    mean = (6 + 2 + 4) / 3  # the needs given of the services in play
    np.testing.assert_allclose(district.demand.need_weight, [[1.0, 1 + 2 / mean], [1 + 6 / mean, 1 + 4 / mean]])
    assert any("needs of 2 communities set their weights: 1 + need / mean need (4.00)" in n for n in district.notes)
    weighted = run_scenario(load_scenario(_scenario(tmp_path, {"needs": "needs.csv"}, budget=budget,
                                                    services=["elderly_day_care"], objective={"kind": "coverage"})))
    # only day care in play: its one need, 6, is the mean, so B weighs 1 + 6 / 6 = 2 > 100 / 60
    assert list(weighted.plan.assignments["site_id"]) == ["S1"]
    elderly_like = [k for k, g in enumerate(GROUPS) if g.key in default_catalogue().service("elderly_day_care").serves]
    # objective by hand: B's residents of the groups day care serves, × the need weight 1 + 6 / 6 = 2
    assert weighted.plan.objective == np.float64(60.0 * len(elderly_like) * 2.0)
    # the default objective (standards first) weighs by need as well: day care's share, each resident × 2 in B
    standards = run_scenario(load_scenario(_scenario(tmp_path, {"needs": "needs.csv"}, budget=budget,
                                                     services=["elderly_day_care"])))
    assert list(standards.plan.assignments["site_id"]) == ["S1"]
    target = 160.0 * len(elderly_like)
    assert standards.plan.objective == pytest.approx(60.0 * len(elderly_like) * 2.0 / target)


def test_needs_list_mistakes_are_named(tmp_path: Path) -> None:
    _two_communities(tmp_path)
    pd.DataFrame({"社区": ["B", "Q"], "服务": ["幼稚所", "食堂"], "需求": [1, 2]}).to_csv(tmp_path / "needs.csv",
                                                                                   index=False)
    checked = D.cli("validate", str(_scenario(tmp_path, {"needs": "needs.csv"})))
    assert checked.code == 2
    err = checked.stderr.replace("\n", "")
    assert ("needs.csv, column 'service', row 1: unknown service '幼稚所'; closest known: 幼稚园 → 幼儿园 "
            "(kindergarten)") in err, err
    assert "needs.csv, column 'community', row 2: community 'Q' has no building in data.demand" in err
