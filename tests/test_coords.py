"""GCJ-02 / BD-09 → WGS84 on published reference points, and the datum option of a scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from pyproj import Geod

from siting.data.catalogue import default_catalogue
from siting.data.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    utm_epsg,
    wgs84_to_gcj02,
)
from siting.data.district import load_district
from siting.data.scenario import load_scenario

GEOD = Geod(ellps="WGS84")

# Published test vectors of the eviltransform library (wgs lat, wgs lon, gcj lat, gcj lon).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# Published example outputs of the coordtransform library for the input (116.404, 39.915).
COORDTRANSFORM = {
    "wgs84togcj02": (116.41024449916938, 39.91640428150164),
    "gcj02tobd09": (116.41036949371029, 39.92133699351021),
    "bd09togcj02": (116.39762729119315, 39.90865673957631),  # its closed-form approximation
    "gcj02towgs84": (116.39775550083061, 39.91359571849836),  # its one-step approximation
}


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_gcj02_published_points(wlat: float, wlon: float, glat: float, glon: float) -> None:
    x, y = wgs84_to_gcj02(wlon, wlat)
    assert metres(float(x), float(y), glon, glat) < 0.001
    x, y = gcj02_to_wgs84(glon, glat)
    assert metres(float(x), float(y), wlon, wlat) < 1.0
    assert metres(float(x), float(y), wlon, wlat) < 0.001  # the iteration makes it exact
    # the offset itself is hundreds of metres: converting matters
    assert metres(glon, glat, wlon, wlat) > 300


def test_bd09_published_points_and_exact_round_trip() -> None:
    x, y = wgs84_to_gcj02(116.404, 39.915)
    assert metres(float(x), float(y), *COORDTRANSFORM["wgs84togcj02"]) < 0.001
    x, y = gcj02_to_bd09(116.404, 39.915)
    assert metres(float(x), float(y), *COORDTRANSFORM["gcj02tobd09"]) < 0.001
    x, y = bd09_to_gcj02(116.404, 39.915)
    assert metres(float(x), float(y), *COORDTRANSFORM["bd09togcj02"]) < 1.0
    x, y = gcj02_to_wgs84(116.404, 39.915)
    assert metres(float(x), float(y), *COORDTRANSFORM["gcj02towgs84"]) < 1.0
    # exact inverses: forward(inverse(p)) == p to a millimetre, over Chongqing
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(106.3, 106.8, 200), rng.uniform(29.3, 29.8, 200)
    bx, by = gcj02_to_bd09(*wgs84_to_gcj02(*bd09_to_wgs84(lon, lat)))
    assert max(metres(a, b, c, d) for a, b, c, d in zip(bx, by, lon, lat, strict=True)) < 0.001


def test_outside_china_unchanged_and_utm_zone() -> None:
    x, y = to_wgs84(np.array([26.94]), np.array([60.53]), "gcj02")
    assert (float(x[0]), float(y[0])) == (26.94, 60.53)
    assert utm_epsg(106.53, 29.58) == 32648  # Chongqing
    assert utm_epsg(26.94, 60.53) == 32635  # Kotka
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_wgs84(1.0, 2.0, "wgs72")


def test_scenario_in_gcj02_lands_where_the_wgs84_one_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wlon, wlat = np.array([106.531, 106.535, 106.533]), np.array([29.575, 29.578, 29.581])
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    positions = {}
    for datum, (lon, lat) in {"wgs84": (wlon, wlat), "gcj02": (glon, glat)}.items():
        folder = tmp_path / datum
        folder.mkdir()
        pd.DataFrame({"id": ["D0", "D1", "D2"], "lon": lon, "lat": lat, "children": 1, "working": 2,
                      "elderly": 1}).to_csv(folder / "demand.csv", index=False)
        pd.DataFrame({"id": ["S0"], "lon": lon[:1], "lat": lat[:1], "floor_area_m2": [500],
                      "retrofit_cost": [1e5]}).to_csv(folder / "sites.csv", index=False)
        (folder / "s.yaml").write_text(yaml.safe_dump({
            "name": datum, "budget": 1e7, "data": {"demand": "demand.csv", "sites": "sites.csv",
                                                    "coordinates": datum}}))
        district = load_district(load_scenario(folder / "s.yaml"), default_catalogue())
        assert district.crs.endswith("32648")
        positions[datum] = district.demand.xy
    assert np.max(np.hypot(*(positions["wgs84"] - positions["gcj02"]).T)) < 0.01
