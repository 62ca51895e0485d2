"""The bureau's tables as they come: spreadsheets with Chinese headers, 万元, Shapefile names, units checked.

Each test writes a table the way a district bureau keeps it and checks that siting reads the
same numbers as from the plain CSV (the independent truth: the same district in siting's own
column names and units), or refuses it with the exact message.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.columns import recognise, split_unit
from siting.data.district import load_district
from siting.data.scenario import load_scenario
from siting.errors import SitingError
from siting.pipeline import catalogue_for, run_scenario

ZH = {"health_station": "卫生服务站", "canteen": "社区食堂", "elderly_day_care": "日间照料"}


def _xlsx(path: Path, sheets: dict[str, pd.DataFrame], title: str | None = None) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        ws = book.create_sheet(name)
        if title is not None:
            ws.append([title])
        ws.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            ws.append([v.item() if hasattr(v, "item") else v for v in row])
    book.save(path)


def _chinese_ledger(sites: pd.DataFrame) -> pd.DataFrame:
    """The ledger as the bureau keeps it: Chinese headers, costs in 万元, Chinese service names."""
    return pd.DataFrame({
        "编号": sites["id"], "名称": sites["name"], "类型": "商铺", "经度": sites["lon"], "纬度": sites["lat"],
        "建筑面积(平方米)": sites["floor_area_m2"], "改造费用(万元)": sites["retrofit_cost"] / 10_000,
        "可改造用途": [";".join(ZH[k] for k in str(a).split(";")) for a in sites["allowed"]]})


def _plan(path: Path) -> tuple[list[tuple[str, str]], float, float]:
    result = run_scenario(load_scenario(path))
    a = result.plan.assignments
    return sorted(zip(a["site_id"], a["service"], strict=True)), result.plan.objective, result.plan.cost


def test_xlsx_ledger_with_chinese_headers_in_wan_yuan_gives_the_csv_plan(tmp_path: Path) -> None:
    t = D.tables(n_demand=30, n_sites=8)
    csv_path = D.write(t, tmp_path / "csv")
    folder = tmp_path / "xlsx"
    D.write(t, folder)
    _xlsx(folder / "ledger.xlsx", {"说明": pd.DataFrame({"a": ["x"]}), "闲置资产一本账": _chinese_ledger(t.sites)},
          title="江北区观音桥街道闲置资产一本账")
    raw = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    raw["data"]["sites"] = "ledger.xlsx"
    (folder / "scenario.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    sc = load_scenario(folder / "scenario.yaml")
    district = load_district(sc, catalogue_for(sc))
    plain = load_district(load_scenario(csv_path), catalogue_for(sc))
    np.testing.assert_allclose(district.sites.retrofit_cost, plain.sites.retrofit_cost, rtol=1e-12)
    np.testing.assert_allclose(district.sites.floor_area, plain.sites.floor_area)
    np.testing.assert_array_equal(district.sites.allowed, plain.sites.allowed)
    notes = "\n".join(district.notes)
    assert "改造费用(万元) → retrofit_cost (in 万元)" in notes
    assert "编号 → id" in notes and "经度 → lon" in notes
    assert "column 'retrofit_cost': read in 万元, converted to 元 (× 10,000)" in notes
    assert "日间照料 → elderly_day_care" in notes
    assert "the header is row 2" in notes  # the title row above it
    plan_xlsx, plan_csv = _plan(folder / "scenario.yaml"), _plan(csv_path)
    assert plan_xlsx == plan_csv
    assert plan_csv[0]  # a real plan, not two empty ones


def test_units_from_the_scenario_and_the_sheet_named_there(tmp_path: Path) -> None:
    t = D.tables()
    folder = tmp_path
    D.write(t, folder)
    ledger = t.sites.rename(columns={"id": "资产编号", "retrofit_cost": "cost", "floor_area_m2": "面积"})
    ledger["cost"] = ledger["cost"] / 10_000
    _xlsx(folder / "book.xlsx", {"Sheet1": pd.DataFrame({"x": [1]}), "台账": ledger})
    path = D.write(t, folder, data={"sites": {"path": "book.xlsx", "sheet": "台账", "units": {"cost": "万元"}}})
    sc = load_scenario(path)
    district = load_district(sc, catalogue_for(sc))
    np.testing.assert_allclose(district.sites.retrofit_cost, t.sites["retrofit_cost"])
    # without the sheet: two sheets and none named for the ledger
    path = D.write(t, folder, data={"sites": "book.xlsx"})
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert "book.xlsx: the workbook has 2 sheets ['Sheet1', '台账'] and none is named for the sites table" in \
        checked.stderr


def test_wan_yuan_in_a_yuan_column_is_caught_with_the_likely_mistake(tmp_path: Path) -> None:
    t = D.tables()
    t.sites["retrofit_cost"] = t.sites["retrofit_cost"].astype(float)
    t.sites.loc[2, "floor_area_m2"] = 5000.0
    t.sites.loc[2, "retrofit_cost"] = 826.0  # 826 万元 written under an English header
    path = D.write(t, tmp_path)
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    expected = (f"{tmp_path / 'sites.csv'}, column 'retrofit_cost', row 3 (id 'S02'): 826 yuan for 5,000 m² is "
                f"0.17 yuan per m², below the plausible 30–30,000 yuan per m²; looks like 万元: 826 yuan for 5,000 m² "
                f"would be 8,260,000 yuan in 万元. Give the unit: units: {{retrofit_cost: 万元}} in the scenario, "
                f"or the header 改造费用(万元)")
    assert expected in checked.stderr.replace("\n", ""), checked.stderr
    ran = D.cli("run", str(path), "--out", str(tmp_path / "out"))
    assert ran.code == 2 and not (tmp_path / "out").exists()


def test_yuan_under_a_wan_yuan_header_is_caught(tmp_path: Path) -> None:
    t = D.tables()
    t.sites = t.sites.rename(columns={"retrofit_cost": "改造费用（万元）"})
    path = D.write(t, tmp_path)
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert "above the plausible 30–30,000 yuan per m²; looks like yuan under a 万元 unit" in \
        checked.stderr.replace("\n", "")


def test_shapefile_ledger_round_trips(tmp_path: Path) -> None:
    """DBF names stop at 10 characters: floor_area_m2 → floor_area, retrofit_cost → retrofit_c, recognised."""
    t = D.tables()
    path = D.write(t, tmp_path)
    gdf = gpd.GeoDataFrame(t.sites.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(t.sites["lon"], t.sites["lat"]), crs=4326)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "column names longer than 10 characters will be truncated"
        gdf.to_file(tmp_path / "ledger.shp")
    assert {"floor_area", "retrofit_c"} <= set(gpd.read_file(tmp_path / "ledger.shp").columns)
    shp = D.write(t, tmp_path, data={"sites": "ledger.shp"})
    sc = load_scenario(shp)
    district = load_district(sc, catalogue_for(sc))
    plain = load_district(load_scenario(path), catalogue_for(sc))
    np.testing.assert_allclose(district.sites.retrofit_cost, plain.sites.retrofit_cost)
    np.testing.assert_allclose(district.sites.floor_area, plain.sites.floor_area)
    np.testing.assert_allclose(district.sites.xy, plain.sites.xy, atol=1e-6)
    assert list(district.sites.ids) == list(plain.sites.ids)
    assert any("floor_area → floor_area_m2" in n and "retrofit_c → retrofit_cost (Shapefile-truncated)" in n
               for n in district.notes), district.notes


def test_column_mapping_of_the_scenario_and_its_mistakes(tmp_path: Path) -> None:
    t = D.tables()
    t.sites = t.sites.rename(columns={"floor_area_m2": "可租面积", "id": "ZCBH"})
    path = D.write(t, tmp_path, data={"sites": {"path": "sites.csv", "columns": {"ZCBH": "id", "可租面积":
                                                                                  "floor_area_m2"}}})
    assert D.cli("validate", str(path)).code == 0
    path = D.write(t, tmp_path, data={"sites": {"path": "sites.csv", "columns": {"ZCBJ": "id", "可租面积":
                                                                                  "floor_area_m2"}}})
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert (f"{tmp_path / 'sites.csv'}, field 'data.sites.columns': the file has no column 'ZCBJ' (did you mean "
            f"'ZCBH'?)") in checked.stderr.replace("\n", "")


def test_two_headers_claiming_one_column_are_refused() -> None:
    problems: list[SitingError] = []
    frame = pd.DataFrame({"建筑面积": ["1"], "面积": ["2"], "编号": ["a"]})
    out = recognise(frame, role="sites", path=Path("ledger.csv"), mapping={}, extra=None, problems=problems,
                    notes=[])
    assert "id" in out.frame.columns
    assert len(problems) == 1 and "columns ['建筑面积', '面积'] could each be 'floor_area_m2'" in str(problems[0])


@pytest.mark.parametrize(("header", "base", "unit"), [
    ("改造费用(万元)", "改造费用", "万元"), ("建筑面积（平方米）", "建筑面积", "平方米"),
    ("cost [yuan]", "cost", "yuan"), ("面积【㎡】", "面积", "㎡"), ("编号", "编号", None)])
def test_units_in_headers(header: str, base: str, unit: str | None) -> None:
    assert split_unit(header) == (base, unit)


def test_an_unknown_unit_is_named(tmp_path: Path) -> None:
    t = D.tables()
    path = D.write(t, tmp_path, data={"sites": {"path": "sites.csv", "units": {"retrofit_cost": "美元"}}})
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert "field 'data.sites.units.retrofit_cost': '美元' is not a unit of 'retrofit_cost'" in checked.stderr


def test_docs_list_every_header_unit_service_name_and_poi_type() -> None:
    from siting.data.catalogue import default_aliases
    from siting.data.columns import BY_ROLE, COMMON
    from siting.data.pois import DEFAULT_TYPES
    from siting.data.spreadsheets import SHEET_NAMES
    from siting.data.units import AREA_UNITS, MONEY_UNITS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-formats.md").read_text(encoding="utf-8")
    names = [n for group in (COMMON, *BY_ROLE.values()) for names in group.values() for n in names]
    names += [*MONEY_UNITS, *AREA_UNITS, *DEFAULT_TYPES, *(n for ns in SHEET_NAMES.values() for n in ns)]
    names += [n for ns in default_aliases().values() for n in ns]
    missing = [n for n in names if n not in doc]
    assert not missing, f"docs/data-formats.md lacks {missing}; regenerate its reference lists"


def test_service_names_in_scenario_fields_are_read_as_keys(tmp_path: Path) -> None:
    t = D.tables()
    path = D.write(t, tmp_path, services=["卫生服务站", "食堂", "日间照料"], weights={"services": {"日间照料": 2.0}},
                   requirements={"min_sites": {"社区食堂": 1}, "max_sites": {"Community health station": 2}})
    sc = load_scenario(path)
    assert sc.services == ["health_station", "canteen", "elderly_day_care"]
    assert sc.weights.services == {"elderly_day_care": 2.0}
    assert sc.requirements.min_sites == {"canteen": 1} and sc.requirements.max_sites == {"health_station": 2}
    assert D.cli("validate", str(path)).code == 0
    path = D.write(t, tmp_path, services=["卫生服务站", "幼稚所"])
    checked = D.cli("validate", str(path))
    assert checked.code == 2
    assert ("field 'services' names unknown service(s) ['幼稚所']: unknown service '幼稚所'; closest known: 幼稚园 → "
            "幼儿园 (kindergarten)") in checked.stderr.replace("\n", "")


def test_poi_types_from_a_mapping_file(tmp_path: Path) -> None:
    t = D.tables()
    t.existing = pd.DataFrame({"name": ["a", "b"], "type": ["生活服务;老年活动室", "餐饮服务;快餐厅"],
                               "lon": [D.LON0, D.LON0 + 0.001], "lat": [D.LAT0, D.LAT0]})
    path = D.write(t, tmp_path)
    pd.DataFrame({"POI类型": ["老年活动室", "快餐厅"], "服务": ["日间照料", "食堂"]}).to_csv(tmp_path / "types.csv",
                                                                                   index=False)
    path = D.write(t, tmp_path, data={"existing": {"path": "existing.csv", "types": "types.csv"}})
    sc = load_scenario(path)
    district = load_district(sc, catalogue_for(sc))
    assert [district.service_keys[s] for s in district.existing.service] == ["elderly_day_care", "canteen"]
    assert list(district.existing.ids) == ["POI1", "POI2"]
