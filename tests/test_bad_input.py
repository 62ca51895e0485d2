"""Every bad input gets a clear answer: exit code 2, a message naming the file and the field, no output.

Each case breaks one thing in a small valid district (:mod:`districts`), then runs
``siting validate`` and ``siting run`` through the command line's entry point: both must
exit with 2, print no traceback, name the file and the field or column (and the row where
there is one), and ``run`` must leave no output folder behind.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

import districts as D  # noqa: N812 - the test helpers, short

Breaker = Callable[[D.Tables, Path], None]


def _set(frame: str, row: int, column: str, value: object) -> Breaker:
    def change(t: D.Tables, folder: Path) -> None:
        df = getattr(t, frame)
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
    return change


def _drop(frame: str, column: str) -> Breaker:
    def change(t: D.Tables, folder: Path) -> None:
        setattr(t, frame, getattr(t, frame).drop(columns=[column]))
    return change


def _scenario(**fields: object) -> Breaker:
    def change(t: D.Tables, folder: Path) -> None:
        for key, value in fields.items():
            if isinstance(value, dict) and isinstance(t.scenario.get(key), dict):
                t.scenario[key] = {**t.scenario[key], **value}
            else:
                t.scenario[key] = value
    return change


def _swap_lonlat(t: D.Tables, folder: Path) -> None:
    t.sites.loc[2, ["lon", "lat"]] = t.sites.loc[2, ["lat", "lon"]].to_numpy()


def _duplicate_id(t: D.Tables, folder: Path) -> None:
    t.demand.loc[4, "id"] = t.demand.loc[1, "id"]


def _xy_without_crs(t: D.Tables, folder: Path) -> None:
    tx = Transformer.from_crs(4326, 32648, always_xy=True)
    x, y = tx.transform(t.sites["lon"].to_numpy(), t.sites["lat"].to_numpy())
    t.sites = t.sites.drop(columns=["lon", "lat"]).assign(x=np.round(x, 2), y=np.round(y, 2))


def _vector_without_crs(t: D.Tables, folder: Path) -> None:
    gdf = gpd.GeoDataFrame(t.existing.drop(columns=["lon", "lat"]),  # type: ignore[union-attr]
                           geometry=gpd.points_from_xy(t.existing["lon"], t.existing["lat"]))  # type: ignore[index]
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "crs was not provided": that is the point
        gdf.to_file(folder / "existing.shp")  # a Shapefile without its .prj: no CRS
    t.scenario["data"] = {"existing": "existing.shp"}


def _far_point(t: D.Tables, folder: Path) -> None:
    t.demand.loc[7, "lon"] += 0.01  # about 1 km east of the network's edge


def _network_elsewhere(t: D.Tables, folder: Path) -> None:
    assert t.nodes is not None
    t.nodes["lat"] += 0.5  # 55 km north: another place


def _no_edges(t: D.Tables, folder: Path) -> None:
    assert t.edges is not None
    t.edges = t.edges.iloc[:0]


def _empty_file(t: D.Tables, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.csv").write_bytes(b"")
    t.scenario["data"] = {"sites": "empty.csv"}


def _header_only(t: D.Tables, folder: Path) -> None:
    t.demand = t.demand.iloc[:0]


def _missing_file(t: D.Tables, folder: Path) -> None:
    t.scenario["data"] = {"demand": "no-such-demand.csv"}


def _force_in_too_dear(t: D.Tables, folder: Path) -> None:
    t.scenario["requirements"] = {"force_in": list(t.sites["id"][:4])}


def _min_sites_too_dear(t: D.Tables, folder: Path) -> None:
    # four canteens fit (each site allows them) but cost more than the budget together
    t.scenario["requirements"] = {"min_sites": {"canteen": 4}}
    t.scenario["budget"] = float(np.sort(t.sites["retrofit_cost"])[:3].sum() + 1_000_000)


CASES: dict[str, tuple[Breaker, tuple[str, ...]]] = {
    "missing file": (_missing_file, ("no-such-demand.csv", "not found", "data.demand")),
    "empty file": (_empty_file, ("empty.csv", "is empty")),
    "header only": (_header_only, ("demand.csv", "no data rows")),
    "missing column": (_drop("sites", "floor_area_m2"), ("sites.csv", "column 'floor_area_m2'", "missing column")),
    "missing population column": (_drop("demand", "elderly"), ("demand.csv", "column 'elderly'", "missing")),
    "text in a number column": (_set("demand", 2, "children", "about 40"),
                                ("demand.csv", "column 'children'", "row 3", "'about 40' is not a number")),
    "negative population": (_set("demand", 5, "working", -12), ("demand.csv", "column 'working'", "row 6",
                                                                "-12", "cannot be negative")),
    "missing population": (_set("demand", 0, "elderly", ""), ("demand.csv", "column 'elderly'", "row 1", "empty")),
    "NaN population": (_set("demand", 3, "elderly", "NaN"), ("demand.csv", "column 'elderly'", "row 4",
                                                             "not a number")),
    "absurd population": (_set("demand", 9, "working", 2_500_000), ("demand.csv", "row 10", "implausible")),
    "duplicate ids": (_duplicate_id, ("demand.csv", "column 'id'", "duplicate id 'B001'", "rows 2, 5")),
    "zero floor area": (_set("sites", 1, "floor_area_m2", 0), ("sites.csv", "column 'floor_area_m2'", "row 2",
                                                               "greater than 0")),
    "missing floor area": (_set("sites", 1, "floor_area_m2", ""), ("sites.csv", "column 'floor_area_m2'", "row 2",
                                                                   "empty")),
    "zero cost": (_set("sites", 3, "retrofit_cost", 0), ("sites.csv", "column 'retrofit_cost'", "row 4",
                                                         "greater than 0")),
    "missing cost": (_set("sites", 3, "retrofit_cost", ""), ("sites.csv", "column 'retrofit_cost'", "row 4",
                                                             "empty")),
    "unknown service in the ledger": (_set("sites", 3, "allowed", "canteen;karaoke"),
                                      ("sites.csv", "column 'allowed'", "row 4", "'karaoke'")),
    "unknown service of an existing facility": (_set("existing", 0, "service", "bowling"),
                                                ("existing.csv", "column 'service'", "row 1", "'bowling'")),
    "unknown service in play": (_scenario(services=["canteen", "karaoke_hall"]), ("scenario.yaml", "services",
                                                                                   "karaoke_hall")),
    "unknown age group weight": (_scenario(weights={"age_groups": {"teenagers": 2.0}}),
                                 ("scenario.yaml", "weights.age_groups", "teenagers")),
    "unknown service weight": (_scenario(weights={"services": {"spa": 2.0}}), ("scenario.yaml", "weights.services",
                                                                               "spa")),
    "lon/lat swapped": (_swap_lonlat, ("sites.csv", "column 'lon/lat'", "row 3", "swapped")),
    "lon outside any range": (_set("demand", 6, "lon", 1065.33), ("demand.csv", "column 'lon/lat'", "row 7",
                                                                  "outside the range")),
    "point far from the district": (_set("sites", 0, "lat", 0.0), ("sites.csv", "row 1", "(106.5", "too far")),
    "x/y without a CRS": (_xy_without_crs, ("sites.csv", "data.crs", "need a CRS")),
    "vector file without a CRS": (_vector_without_crs, ("existing.shp", "no CRS")),
    "unknown CRS": (_scenario(data={"crs": "EPSG:999999"}), ("scenario.yaml", "data.crs", "EPSG:999999")),
    "budget below the cheapest site with sites required": (
        _scenario(budget=1000.0, requirements={"min_sites": {"canteen": 1}}),
        ("scenario.yaml", "budget", "cheapest conversion", "requirements ask for sites")),
    "forced sites above the budget": (_force_in_too_dear, ("scenario.yaml", "requirements.force_in", "budget")),
    "min_sites above what fits": (_scenario(requirements={"min_sites": {"elderly_day_care": 9}}),
                                  ("scenario.yaml", "requirements.min_sites.elderly_day_care", "only")),
    "min_sites above max_sites": (_scenario(requirements={"min_sites": {"canteen": 2}, "max_sites": {"canteen": 1}}),
                                  ("scenario.yaml", "min_sites.canteen", "max_sites.canteen")),
    "min_sites above the budget": (_min_sites_too_dear, ("scenario.yaml", "min_sites.canteen = 4", "budget")),
    "force_in unknown site": (_scenario(requirements={"force_in": ["S99"]}), ("scenario.yaml",
                                                                             "requirements.force_in", "S99")),
    "unknown scenario field": (_scenario(budjet=5), ("scenario.yaml", "budjet", "unknown field")),
    "budget not a number": (_scenario(budget="lots"), ("scenario.yaml", "field 'budget'")),
    "budget infinite": (_scenario(budget=float("inf")), ("scenario.yaml", "field 'budget'")),
    "name leaving the output folder": (_scenario(name=".."), ("scenario.yaml", "field 'name'", "output folder")),
    "name with a path": (_scenario(name="../../etc"), ("scenario.yaml", "field 'name'")),
    "unknown solver": (_scenario(solver={"backend": "gurobi-deluxe"}), ("gurobi-deluxe", "highs")),
}

NETWORK_CASES: dict[str, tuple[Breaker, tuple[str, ...]]] = {
    "point far from the network": (_far_point, ("demand.csv", "row 8", "walking network", "snap_limit_m")),
    "network with no node near the data": (_network_elsewhere, ("nodes.csv", "no node within", "data.network")),
    "network with no edges": (_no_edges, ("edges.csv", "no edges")),
    "network node not a number": (_set("nodes", 4, "lat", "north"), ("nodes.csv", "column 'lat'", "row 5")),
    "network edge to an unknown node": (_set("edges", 2, "v", "N77_77"), ("edges.csv", "row 3", "node id")),
}


def check_rejected(folder: Path, fragments: tuple[str, ...]) -> None:
    """``validate`` and ``run`` both exit 2 with the fragments, no traceback, and no output."""
    scenario = folder / "scenario.yaml"
    checked = D.cli("validate", str(scenario))
    assert checked.code == 2, checked
    assert "Traceback" not in checked.stderr
    for fragment in fragments:
        assert fragment in checked.stderr, (fragment, checked.stderr)
    out = folder / "out"
    ran = D.cli("run", str(scenario), "--out", str(out / "plan"))
    assert ran.code == 2, ran
    assert "Traceback" not in ran.stderr
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_named(case: str, tmp_path: Path) -> None:
    breaker, fragments = CASES[case]
    t = D.tables()
    breaker(t, tmp_path)
    D.write(t, tmp_path)
    check_rejected(tmp_path, fragments)


@pytest.mark.parametrize("case", sorted(NETWORK_CASES))
def test_bad_network_input_is_named(case: str, tmp_path: Path) -> None:
    breaker, fragments = NETWORK_CASES[case]
    t = D.tables(network=True)
    breaker(t, tmp_path)
    D.write(t, tmp_path)
    check_rejected(tmp_path, fragments)


def test_the_valid_district_passes(tmp_path: Path) -> None:
    """The starting point of every case is valid: each failure above is the broken thing's."""
    for network in (False, True):
        folder = tmp_path / f"net-{network}"
        D.write(D.tables(network=network), folder)
        checked = D.cli("validate", str(folder / "scenario.yaml"))
        assert checked.code == 0, checked.stderr


def test_every_problem_of_every_file_is_listed_at_once(tmp_path: Path) -> None:
    t = D.tables(network=True)
    t.demand["children"] = t.demand["children"].astype(object)
    t.demand.loc[2, "children"] = "many"
    t.demand.loc[6, "id"] = t.demand.loc[5, "id"]
    t.sites.loc[1, "floor_area_m2"] = 0
    t.sites.loc[3, "allowed"] = "canteen;karaoke"
    t.existing.loc[0, "service"] = "bowling"  # type: ignore[union-attr]
    assert t.nodes is not None
    t.nodes["lon"] = t.nodes["lon"].astype(object)
    t.nodes.loc[0, "lon"] = "east"
    D.write(t, tmp_path, weights={"services": {"spa": 1.0}})
    checked = D.cli("validate", str(tmp_path / "scenario.yaml"))
    assert checked.code == 2
    for fragment in ("'many' is not a number", "duplicate id 'B005'", "column 'floor_area_m2', row 2",
                     "'karaoke'", "'bowling'", "nodes.csv, column 'lon', row 1", "weights.services"):
        assert fragment in checked.stderr, (fragment, checked.stderr)
    assert "7 problem(s) found" in checked.stderr  # and weights.services.spa


def test_rows_are_named_with_their_ids_and_counted(tmp_path: Path) -> None:
    t = D.tables(n_demand=30)
    t.demand["working"] = t.demand["working"].astype(object)
    t.demand.loc[[3, 4, 8, 10, 11, 12, 20], "working"] = -1
    D.write(t, tmp_path)
    checked = D.cli("validate", str(tmp_path / "scenario.yaml"))
    assert checked.code == 2
    assert "rows 4, 5, 9, 11, 12 (ids 'B003', 'B004', 'B008', 'B010', 'B011') and 2 more" in checked.stderr


def test_tables_in_different_crss_are_reprojected_with_a_note(tmp_path: Path) -> None:
    """Sites in UTM metres, demand in degrees: same district arrays as all in degrees, and a note."""
    from siting.data.district import load_district
    from siting.data.scenario import load_scenario
    from siting.pipeline import catalogue_for

    t = D.tables()
    same = load_scenario(D.write(t, tmp_path / "degrees"))
    _xy_without_crs(t, tmp_path)
    checked_path = D.write(t, tmp_path / "mixed", data={"crs": "EPSG:32648"})
    mixed = load_scenario(checked_path)
    a = load_district(same, catalogue_for(same))
    b = load_district(mixed, catalogue_for(mixed))
    assert a.crs == b.crs == "EPSG:32648"
    np.testing.assert_allclose(b.sites.xy, a.sites.xy, atol=0.01)  # coordinates were rounded to 1 cm
    assert any("different CRSs" in n and "reprojected" in n for n in b.notes)
    checked = D.cli("validate", str(checked_path))
    assert checked.code == 0, checked.stderr
    assert "different CRSs" in checked.stdout


def test_gb18030_csv_is_read_with_a_note(tmp_path: Path) -> None:
    t = D.tables()
    t.sites["name"] = "原机械厂老厂房"
    path = D.write(t, tmp_path)
    (tmp_path / "sites.csv").write_bytes(t.sites.to_csv(index=False).encode("gb18030"))
    checked = D.cli("validate", str(path))
    assert checked.code == 0, checked.stderr
    assert "GB18030" in checked.stdout


def test_multi_layer_geopackage_needs_a_layer_named_by_role(tmp_path: Path) -> None:
    t = D.tables()
    gdf = gpd.GeoDataFrame(t.sites.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(t.sites["lon"], t.sites["lat"]), crs=4326)
    tmp_path.mkdir(exist_ok=True)
    gdf.to_file(tmp_path / "ledger.gpkg", layer="shops", driver="GPKG")
    gdf.iloc[:2].to_file(tmp_path / "ledger.gpkg", layer="roads", driver="GPKG")
    t.scenario["data"] = {"sites": "ledger.gpkg"}
    path = D.write(t, tmp_path)
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert "ledger.gpkg has 2 layers" in checked.stderr and "'sites'" in checked.stderr
    gdf.to_file(tmp_path / "ledger.gpkg", layer="sites", driver="GPKG")
    assert D.cli("validate", str(path)).code == 0


def test_a_folder_of_other_files_is_never_replaced(tmp_path: Path) -> None:
    path = D.write(D.tables(), tmp_path / "district")
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "thesis.docx").write_bytes(b"years of work")
    with D.unchanged(documents):
        ran = D.cli("run", str(path), "--out", str(documents))
    assert ran.code == 2
    assert "holds files siting did not write" in ran.stderr and "thesis.docx" in ran.stderr


def test_a_scenario_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("name: x\nbudget: [1, 2\n", encoding="utf-8")
    checked = D.cli("validate", str(path))
    assert checked.code == 2 and "not valid YAML" in checked.stderr and "scenario.yaml" in checked.stderr
    path.write_text("name: x\nbudget: 1\nbudget: 2\n", encoding="utf-8")
    checked = D.cli("validate", str(path))
    assert checked.code == 2 and "'budget' is given twice" in checked.stderr
    checked = D.cli("validate", str(tmp_path))
    assert checked.code == 2 and "not a file" in checked.stderr


def test_population_column_alone_is_split_by_census_shares(tmp_path: Path) -> None:
    """A single 'population' column is accepted and split; a negative total is still caught."""
    t = D.tables()
    total = t.demand[["children", "working", "elderly"]].sum(axis=1)
    t.demand = t.demand.drop(columns=["children", "working", "elderly"]).assign(population=total)
    path = D.write(t, tmp_path)
    assert D.cli("validate", str(path)).code == 0
    t.demand.loc[2, "population"] = -5
    D.write(t, tmp_path)
    checked = D.cli("validate", str(path))
    assert checked.code == 2 and "column 'population', row 3" in checked.stderr
    frame = pd.read_csv(tmp_path / "demand.csv")
    assert frame.loc[2, "population"] == -5
