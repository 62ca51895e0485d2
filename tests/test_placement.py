"""Coordinates per table: the hints for survey mistakes, and GCJ-02 POIs beside a CGCS2000 ledger.

The truth is the small district's WGS84 positions (:mod:`districts`), moved into the survey CRS
with pyproj and into GCJ-02 with the published forward algorithm; each mistake is made on
purpose and the message checked word for word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.coords import wgs84_to_gcj02
from siting.data.district import load_district
from siting.data.placement import gauss_kruger_epsg
from siting.data.scenario import load_scenario
from siting.pipeline import catalogue_for

TO_4545 = Transformer.from_crs(4326, 4545, always_xy=True)


def _survey(t: D.Tables) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The ledger without lon/lat, and its CGCS2000 3-degree Gauss–Krüger (CM 108E) eastings and northings."""
    east, north = TO_4545.transform(t.sites["lon"].to_numpy(), t.sites["lat"].to_numpy())
    return t.sites.drop(columns=["lon", "lat"]), np.round(east, 2), np.round(north, 2)


def _refused(t: D.Tables, folder: Path, sites: dict[str, object]) -> str:
    path = D.write(t, folder, data={"sites": {"path": "sites.csv", **sites}})
    checked = D.cli("validate", str(path))
    assert checked.code == 2, checked
    return checked.stderr.replace("\n", "")


HEAD = "rows 1, 2, 3, 4, 5 (ids 'S00', 'S01', 'S02', 'S03', 'S04') and 1 more"
AREA_4545 = ("lies outside the area where EPSG:4545 (CGCS2000 / 3-degree Gauss-Kruger CM 108E) is used (longitude "
             "106.5..109.51, latitude 18.19..42.47)")


def test_gauss_kruger_codes() -> None:
    assert gauss_kruger_epsg(36, prefixed=False) == 4545
    assert gauss_kruger_epsg(36, prefixed=True) == 4524
    assert gauss_kruger_epsg(35, prefixed=False) == 4544
    assert gauss_kruger_epsg(18, prefixed=True) == 4496
    assert CRS.from_epsg(4496).name == "CGCS2000 / Gauss-Kruger zone 18"
    assert gauss_kruger_epsg(24, prefixed=True) is None  # neither a 3-degree nor a 6-degree zone of China


def test_survey_style_x_northing_first_is_named(tmp_path: Path) -> None:
    t = D.tables()
    ledger, east, north = _survey(t)
    t.sites = ledger.assign(**{"X坐标": north, "Y坐标": east})  # surveyors' X is the northing
    message = _refused(t, tmp_path, {"crs": "EPSG:4545"})
    expected = (f"{tmp_path / 'sites.csv'}, column 'x/y', {HEAD}: ({north[0]:,.0f}, {east[0]:,.0f}) {AREA_4545} "
                f"(X and Y look swapped: 'x' holds northings, as surveyors write X for north; swap the two columns, "
                f"or map them in the scenario: columns: {{X坐标: y, Y坐标: x}}); correct the coordinates or the CRS "
                f"('data.sites.crs')")
    assert expected in message, message
    # mapped as the message says, the same ledger reads
    path = D.write(t, tmp_path, data={"sites": {"path": "sites.csv", "crs": "EPSG:4545",
                                                "columns": {"X坐标": "y", "Y坐标": "x"}}})
    assert D.cli("validate", str(path)).code == 0


def test_zone_number_in_front_of_the_eastings_is_named(tmp_path: Path) -> None:
    t = D.tables()
    ledger, east, north = _survey(t)
    t.sites = ledger.assign(x=east + 36_000_000, y=north)
    message = _refused(t, tmp_path, {"crs": "EPSG:4545"})
    med = float(np.median(east + 36_000_000))
    expected = (f"{tmp_path / 'sites.csv'}, column 'x/y', {HEAD}: ({east[0] + 36e6:,.0f}, {north[0]:,.0f}) "
                f"{AREA_4545} (the eastings carry the Gauss–Krüger zone number 36 in front: {med:,.0f} is zone 36, "
                f"easting {med - 36e6:,.0f} m; that is EPSG:4524 (CGCS2000 / 3-degree Gauss-Kruger zone 36), so set "
                f"crs: EPSG:4524, or subtract 36,000,000 from the eastings and use EPSG:4545 (CGCS2000 / 3-degree "
                f"Gauss-Kruger CM 108E)); correct the coordinates or the CRS ('data.sites.crs')")
    assert expected in message, message
    path = D.write(t, tmp_path, data={"sites": {"path": "sites.csv", "crs": "EPSG:4524"}})
    assert D.cli("validate", str(path)).code == 0


def test_the_neighbouring_zone_across_106_5_degrees_is_named(tmp_path: Path) -> None:
    """Eastings of zone CM 108E read as CM 105E land 291 km west of the demand: the hint names EPSG:4545."""
    t = D.tables()
    ledger, east, north = _survey(t)
    t.sites = ledger.assign(x=east, y=north)
    message = _refused(t, tmp_path, {"crs": "EPSG:4544"})
    assert (f"{tmp_path / 'sites.csv'}, column 'x/y', {HEAD}: ({east[0]:,.0f}, {north[0]:,.0f}) is 291 km from the "
            f"middle of the demand points, too far to be part of the same district; check these coordinates "
            f"(swapped, zero or in another CRS than the file says); read in EPSG:4545 (CGCS2000 / 3-degree "
            f"Gauss-Kruger CM 108E) (the neighbouring 3-degree zone, central meridian 108° E; the zones meet at "
            f"106.5° E, near this district) they land 0.3 km from the middle of the others: is that their CRS?"
            ) in message, message


def test_a_crs_whose_area_does_not_hold_the_data_fails_validate(tmp_path: Path) -> None:
    """A PROJ string without the false easting: no EPSG area of use, so its central meridian's is checked."""
    t = D.tables()
    ledger, east, north = _survey(t)
    t.sites = ledger.assign(x=east, y=north)
    proj = "+proj=tmerc +lon_0=108 +k=1 +ellps=GRS80 +units=m +no_defs"
    message = _refused(t, tmp_path, {"crs": proj})
    assert (f"{tmp_path / 'sites.csv'}, column 'x/y', {HEAD}: ({east[0]:,.0f}, {north[0]:,.0f}) lies outside the "
            f"area where {proj} +type=crs (unknown) can be used (around its central meridian) (longitude 105..111, "
            f"latitude -84..84); correct the coordinates or the CRS ('data.sites.crs')") in message, message
    # and a known code whose area of use is elsewhere (Lambert-93, France)
    message = _refused(t, tmp_path, {"crs": "EPSG:2154"})
    assert "lies outside the area where EPSG:2154 (RGF93 v1 / Lambert-93) is used" in message, message


def test_gcj02_pois_beside_a_cgcs2000_ledger_land_on_their_wgs84_truth(tmp_path: Path) -> None:
    t = D.tables()
    ledger, east, north = _survey(t)
    t.sites = ledger.assign(**{"X坐标": east, "Y坐标": north})
    truth_lon = D.LON0 + np.array([150.0, 420.0, 610.0, 300.0]) / 111_000
    truth_lat = D.LAT0 + np.array([200.0, 530.0, 120.0, 700.0]) / 111_000
    glon, glat = wgs84_to_gcj02(truth_lon, truth_lat)
    t.existing = pd.DataFrame({
        "名称": ["观音桥社区卫生服务中心", "幸福食堂", "某某服装店", "老年活动室"],
        "类型": ["医疗保健服务;医疗保健服务场所;社区卫生服务中心", "餐饮服务;快餐厅;老年食堂",
               "购物服务;服装鞋帽皮具店;服装店", "生活服务;老年活动室"],
        "lng": np.round(glon, 9), "lat": np.round(glat, 9)})
    path = D.write(t, tmp_path, data={
        "sites": {"path": "sites.csv", "crs": "EPSG:4545"},
        "existing": {"path": "existing.csv", "coordinates": "gcj02", "types": {"老年活动室": "日间照料"}}})
    sc = load_scenario(path)
    district = load_district(sc, catalogue_for(sc))
    to_metric = Transformer.from_crs(4326, district.crs, always_xy=True)
    tx, ty = to_metric.transform(truth_lon, truth_lat)
    keep = [0, 1, 3]  # the convenience store maps to no service
    assert list(district.existing.names) == ["观音桥社区卫生服务中心", "幸福食堂", "老年活动室"]
    assert [district.service_keys[s] for s in district.existing.service] == ["health_station", "canteen",
                                                                             "elderly_day_care"]
    error = np.hypot(district.existing.xy[:, 0] - tx[keep], district.existing.xy[:, 1] - ty[keep])
    assert error.max() < 1.0, error
    original = D.tables().sites  # the ledger's WGS84 truth
    sx, sy = to_metric.transform(original["lon"].to_numpy(), original["lat"].to_numpy())
    assert np.hypot(district.sites.xy[:, 0] - sx, district.sites.xy[:, 1] - sy).max() < 1.0
    # the offset itself is hundreds of metres: read as WGS84 the POIs would be far off
    gx, gy = to_metric.transform(glon, glat)
    assert np.hypot(gx - tx, gy - ty).min() > 300
    notes = "\n".join(district.notes)
    assert "lon/lat read as GCJ02 (web-map datum) and moved to WGS84" in notes
    assert "1 POI(s) of 1 type(s) match no service and are left out: 购物服务;服装鞋帽皮具店;服装店 (1)" in notes
