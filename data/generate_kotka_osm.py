"""Derive the Kotka demand, ledger and facility tables ``data/kotka-osm/`` from OpenStreetMap.

Source: the OpenStreetMap extract of part of Kotka, Finland, that ships inside the pyrosm
package (``pyrosm.get_data("test_pbf")``, © OpenStreetMap contributors, ODbL), read offline.
The scenario ``scenarios/kotka-osm.yaml`` walks the same extract's street network.

- **Demand**: residential buildings (``building`` = residential, apartments, house, terrace,
  detached, semidetached_house, dormitory). Residents = footprint area × levels ÷
  ``FLOOR_M2_PER_RESIDENT``; levels from ``building:levels`` where mapped, else
  ``DEFAULT_LEVELS``. Split by age with ``AGE_SHARES``.
- **Candidate sites**: non-residential buildings (industrial, public, retail, service,
  garages, and unclassified ``building=yes`` of at least ``MIN_UNCLASSIFIED_M2``), of at least
  ``MIN_SITE_M2``. **The ledger is illustrative**: OSM says nothing about vacancy, so none of
  these buildings is known to be idle; floor areas are footprint × levels, and retrofit costs
  are ``RETROFIT_YUAN_PER_M2`` (yuan, to match the service catalogue) — invented figures for
  a demonstration on a real street network.
- **Existing facilities**: OSM ``amenity=kindergarten`` / ``childcare`` and ``leisure=pitch``
  (as sports space).

Run from the repository root: ``python data/generate_kotka_osm.py``. The output is
committed; re-running with the same pyrosm extract reproduces it exactly.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyrosm

OUT = Path(__file__).resolve().parent / "kotka-osm"
METRIC_CRS = "EPSG:32635"  # UTM zone 35N, the zone of Kotka (26.9 E)

# Average dwelling floor area per resident in Finland is about 40 m² (Statistics Finland,
# dwellings and housing conditions, 2020s); used as gross floor area per resident.
FLOOR_M2_PER_RESIDENT = 40.0
# Few buildings in the extract carry building:levels; detached and row houses dominate.
DEFAULT_LEVELS = {"apartments": 3.0, "dormitory": 3.0}  # every other kind: 1 level
# Age shares, rounded, for Finland at the end of 2022 (Statistics Finland, population
# structure): 0–14 about 15 %, 15–59 about 55 %, 60+ about 30 %. Kotka's own population is
# older than the national average, so these shares understate its elderly.
AGE_SHARES = {"children": 0.15, "working": 0.55, "elderly": 0.30}

RESIDENTIAL = ("residential", "apartments", "house", "terrace", "detached", "semidetached_house", "dormitory")
SITE_KINDS = ("industrial", "public", "retail", "service", "garages", "yes")
MIN_SITE_M2 = 100.0
MIN_UNCLASSIFIED_M2 = 200.0
# Illustrative retrofit costs, yuan per m² of floor area (NOT real figures).
RETROFIT_YUAN_PER_M2 = {"industrial": 1300, "public": 1100, "retail": 1000, "service": 1000, "garages": 900,
                        "yes": 1200}
ALLOWED = {  # which services each kind may host (illustrative planners' judgement)
    "industrial": ["elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                   "study_room", "sports_space", "night_school", "coworking", "service_station"],
    "public": ["elderly_day_care", "health_station", "childcare", "culture_station", "study_room", "night_school",
               "coworking", "service_station", "sports_space"],
    "retail": ["health_station", "childcare", "canteen", "study_room", "elderly_day_care", "service_station"],
    "service": ["health_station", "canteen", "service_station", "study_room"],
    "garages": ["sports_space", "culture_station", "coworking"],
    "yes": ["elderly_day_care", "canteen", "culture_station", "study_room", "night_school", "coworking",
            "service_station"],
}
KIND_NAMES = {"industrial": "industrial building", "public": "public building", "retail": "retail building",
              "service": "service building", "garages": "garages", "yes": "unclassified building"}
EXISTING = {("amenity", "kindergarten"): "kindergarten", ("amenity", "childcare"): "childcare",
            ("leisure", "pitch"): "sports_space"}


def _levels(frame: gpd.GeoDataFrame) -> np.ndarray:
    mapped = pd.to_numeric(frame.get("building:levels"), errors="coerce") if "building:levels" in frame else None
    default = frame["building"].map(DEFAULT_LEVELS).fillna(1.0).to_numpy(dtype=float)
    if mapped is None:
        return default
    return np.where(mapped.notna() & (mapped > 0), mapped, default)


def _lonlat(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = frame.to_crs(METRIC_CRS).representative_point().to_crs("EPSG:4326")
    return pts.x.round(7).to_numpy(), pts.y.round(7).to_numpy()


def main() -> None:
    osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
    buildings = osm.get_buildings()
    buildings = buildings[buildings.geometry.notna()].copy()
    buildings["footprint_m2"] = buildings.to_crs(METRIC_CRS).area
    buildings = buildings.sort_values("id", kind="stable").reset_index(drop=True)
    OUT.mkdir(exist_ok=True)

    homes = buildings[buildings["building"].isin(RESIDENTIAL)].copy()
    residents = homes["footprint_m2"].to_numpy() * _levels(homes) / FLOOR_M2_PER_RESIDENT
    lon, lat = _lonlat(homes)
    demand = pd.DataFrame({"id": [f"W{i}" for i in homes["id"]], "building": homes["building"].to_numpy(),
                           "lon": lon, "lat": lat, "footprint_m2": homes["footprint_m2"].round(1).to_numpy(),
                           "residents": residents.round(2)})
    for group, share in AGE_SHARES.items():
        demand[group] = (residents * share).round(2)
    demand.to_csv(OUT / "demand.csv", index=False)

    kinds = buildings["building"]
    size_ok = np.where(kinds.eq("yes"), buildings["footprint_m2"] >= MIN_UNCLASSIFIED_M2,
                       buildings["footprint_m2"] >= MIN_SITE_M2)
    cand = buildings[kinds.isin(SITE_KINDS) & size_ok].copy()
    area = (cand["footprint_m2"].to_numpy() * _levels(cand)).round(0)
    lon, lat = _lonlat(cand)
    names = [f"{n} ({KIND_NAMES[k]}, illustrative)" if isinstance(n, str) and n else
             f"{KIND_NAMES[k]} W{i} (illustrative)" for n, k, i in zip(cand.get("name"), cand["building"], cand["id"],
                                                                        strict=True)]
    unit = cand["building"].map(RETROFIT_YUAN_PER_M2).to_numpy(dtype=float)
    sites = pd.DataFrame({"id": [f"W{i}" for i in cand["id"]], "name": names, "kind": cand["building"].to_numpy(),
                          "lon": lon, "lat": lat, "floor_area_m2": area,
                          "retrofit_cost": np.round(area * unit, -3),
                          "allowed": [";".join(ALLOWED[k]) for k in cand["building"]]})
    sites.to_csv(OUT / "sites.csv", index=False)

    pois = osm.get_pois(custom_filter={"amenity": ["kindergarten", "childcare"], "leisure": ["pitch"]})
    rows = []
    for (column, value), service in EXISTING.items():
        found = pois[pois[column].eq(value)] if column in pois else pois.iloc[0:0]
        found = found.sort_values("id", kind="stable")
        lon, lat = _lonlat(found)
        for i, name, x, y in zip(found["id"], found.get("name"), lon, lat, strict=True):
            label = name if isinstance(name, str) and name else f"{value} {i}"
            rows.append({"id": f"{found.loc[found['id'] == i, 'osm_type'].iloc[0][0].upper()}{i}",
                         "name": f"{label} (OSM {column}={value})", "service": service, "lon": x, "lat": y})
    pd.DataFrame(rows).to_csv(OUT / "existing.csv", index=False)
    print(f"{len(demand)} residential buildings, {demand['residents'].sum():,.0f} residents; "
          f"{len(sites)} candidate sites; {len(rows)} existing facilities -> {OUT}")


if __name__ == "__main__":
    main()
