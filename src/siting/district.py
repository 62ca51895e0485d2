"""The district: demand points, candidate sites and existing facilities, in metres.

:func:`load_district` reads the scenario's tables through :mod:`siting.io`, checks every
row, projects all coordinates to one metric CRS (the UTM zone of the data's centroid when the
input is in degrees) and returns plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import CRS

from siting import io
from siting.catalog import Catalogue, default_catalogue
from siting.errors import DataError, SitingError, ValidationErrors, where
from siting.scenario import Scenario
from siting.walking.coords import to_wgs84


@dataclass(frozen=True)
class Demand:
    """Residential buildings (demand points).

    Attributes
    ----------
    ids
        Building ids.
    xy
        Coordinates in metres, shape (n, 2).
    population
        Residents per age group, shape (n, groups), in catalogue order.
    """

    ids: np.ndarray
    xy: np.ndarray
    population: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Sites:
    """Candidate sites: the idle-asset ledger (闲置资产一本账).

    Attributes
    ----------
    ids, names, kinds
        Site id, readable name and kind (factory, shop, warehouse...).
    xy
        Coordinates in metres, shape (m, 2).
    floor_area
        Usable floor area in m².
    retrofit_cost
        Cost of converting the site, paid once if it hosts any service, in yuan.
    allowed
        Which services each site may host, boolean shape (m, services).
    """

    ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    xy: np.ndarray
    floor_area: np.ndarray
    retrofit_cost: np.ndarray
    allowed: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Existing:
    """Existing facilities, which give baseline coverage.

    Attributes
    ----------
    ids, names
        Facility id and name.
    service
        Index of the service each offers (catalogue order).
    xy
        Coordinates in metres, shape (k, 2).
    """

    ids: np.ndarray
    names: np.ndarray
    service: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class District:
    """Everything the walking and coverage stages need, in one metric CRS."""

    name: str
    crs: str
    demand: Demand
    sites: Sites
    existing: Existing
    service_keys: tuple[str, ...]
    group_keys: tuple[str, ...]


def metric_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """A metric CRS for the data: itself when projected, else the UTM zone of its centroid."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit in ("metre", "meter"):
            return crs
    lonlat = gdf.to_crs("EPSG:4326").geometry
    lon = float(np.mean(lonlat.x))
    lat = float(np.mean(lonlat.y))
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _check_lonlat(gdf: gpd.GeoDataFrame, path: Path, problems: list[SitingError]) -> None:
    crs = CRS.from_user_input(gdf.crs)
    if not crs.is_geographic:
        return
    x = gdf.geometry.x.to_numpy()
    y = gdf.geometry.y.to_numpy()
    bad = np.flatnonzero((np.abs(x) > 180) | (np.abs(y) > 90))
    if bad.size:
        i = int(bad[0])
        hint = " (lon and lat look swapped)" if abs(y[i]) <= 180 and abs(x[i]) <= 90 else ""
        problems.append(DataError(
            f"{where(path, 'lon/lat', i + 1)}: ({x[i]:g}, {y[i]:g}) is outside the range of degrees"
            f"{hint}; give longitude in [-180, 180] and latitude in [-90, 90]"))


def _datum_to_wgs84(gdf: gpd.GeoDataFrame, system: str, path: Path | None) -> gpd.GeoDataFrame:
    """Points given in GCJ-02 or BD-09 degrees, moved to their WGS84 position."""
    crs = CRS.from_user_input(gdf.crs)
    if not crs.is_geographic:
        raise DataError(f"{path}: data.coordinates is '{system}', which applies to lon/lat degrees, but this file "
                        f"is in {crs.to_string()}; give lon/lat or set data.coordinates to wgs84")
    lon, lat = to_wgs84(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), system)
    return gdf.set_geometry(gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def load_district(scenario: Scenario, catalogue: Catalogue) -> District:
    """Read and check the scenario's data, project it to metres.

    Parameters
    ----------
    scenario
        The validated scenario.
    catalogue
        Services and age groups in play.

    Returns
    -------
    District
        Demand, sites and existing facilities as arrays in one metric CRS.

    Raises
    ------
    ValidationErrors
        Listing every problem found in the data.
    """
    data = scenario.data
    problems: list[SitingError] = []
    demand_gdf = io.read_points(data.demand, role="demand", crs=data.crs)
    sites_gdf = io.read_points(data.sites, role="sites", crs=data.crs)
    existing_gdf = (io.read_points(data.existing, role="existing", crs=data.crs)
                    if data.existing is not None else None)
    for gdf, path in ((demand_gdf, data.demand), (sites_gdf, data.sites), (existing_gdf, data.existing)):
        if gdf is not None and path is not None:
            _check_lonlat(gdf, path, problems)
    if problems:
        raise ValidationErrors(problems) if len(problems) > 1 else problems[0]
    if data.coordinates != "wgs84":  # web-map datums: to WGS84 before projecting
        demand_gdf = _datum_to_wgs84(demand_gdf, data.coordinates, data.demand)
        sites_gdf = _datum_to_wgs84(sites_gdf, data.coordinates, data.sites)
        if existing_gdf is not None:
            existing_gdf = _datum_to_wgs84(existing_gdf, data.coordinates, data.existing)
    crs = metric_crs(demand_gdf)

    def xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
        g = gdf.to_crs(crs).geometry
        return np.column_stack([g.x.to_numpy(), g.y.to_numpy()])

    groups = catalogue.group_keys
    services = catalogue.service_keys
    # demand
    io.require_columns(demand_gdf, ["id"], data.demand)
    d_ids = io.ids(demand_gdf, data.demand, problems)
    missing_groups = [g for g in groups if g not in demand_gdf.columns]
    if missing_groups and "population" in demand_gdf.columns:
        total = io.numeric(demand_gdf, "population", data.demand, minimum=0, problems=problems)
        shares = np.array([catalogue.group(g).census_share or 0.0 for g in groups])
        if shares.sum() <= 0:
            problems.append(DataError(
                f"{data.demand}: only a 'population' column, and the age groups have no census_share "
                f"to split it; add columns {list(groups)}"))
        pop = np.outer(total, shares / max(shares.sum(), 1e-12))
    elif missing_groups:
        raise DataError(
            f"{data.demand}: missing population column(s) {missing_groups}, one per age group "
            f"(or a single 'population' column split by census shares)")
    else:
        pop = np.column_stack([io.numeric(demand_gdf, g, data.demand, minimum=0, problems=problems)
                               for g in groups])
    # sites
    io.require_columns(sites_gdf, ["id", "floor_area_m2", "retrofit_cost"], data.sites)
    s_ids = io.ids(sites_gdf, data.sites, problems)
    area = io.numeric(sites_gdf, "floor_area_m2", data.sites, minimum=0, positive=True, problems=problems)
    cost = io.numeric(sites_gdf, "retrofit_cost", data.sites, minimum=0, problems=problems)
    names = (sites_gdf["name"].astype("string").fillna("").to_numpy(dtype=object)
             if "name" in sites_gdf.columns else s_ids.copy())
    kinds = (sites_gdf["kind"].astype("string").fillna("").to_numpy(dtype=object)
             if "kind" in sites_gdf.columns else np.full(len(s_ids), "", dtype=object))
    # keys of the default catalogue not in play are accepted and ignored; others are typos
    known_services = frozenset(services) | frozenset(default_catalogue().service_keys)
    allowed = _allowed_matrix(sites_gdf, services, known_services, data.sites, problems)
    # existing facilities
    if existing_gdf is not None and data.existing is not None:
        io.require_columns(existing_gdf, ["id", "service"], data.existing)
        e_ids = io.ids(existing_gdf, data.existing, problems)
        e_names = (existing_gdf["name"].astype("string").fillna("").to_numpy(dtype=object)
                   if "name" in existing_gdf.columns else e_ids.copy())
        keys = existing_gdf["service"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        known = np.isin(keys, np.array(catalogue.service_keys, dtype=object))
        # an existing facility of a service not in play is simply not used; an unknown key is a mistake
        all_known = set(known_services)
        for i in np.flatnonzero(~known):
            if keys[i] not in all_known:
                problems.append(DataError(
                    f"{where(data.existing, 'service', int(i) + 1)}: unknown service {keys[i]!r}; "
                    f"known services: {sorted(all_known)}"))
                break
        index = {k: i for i, k in enumerate(services)}
        e_service = np.array([index.get(k, -1) for k in keys], dtype=np.int64)
        keep = e_service >= 0
        existing = Existing(e_ids[keep], e_names[keep], e_service[keep], xy(existing_gdf)[keep])
    else:
        existing = Existing(np.array([], dtype=object), np.array([], dtype=object),
                            np.array([], dtype=np.int64), np.zeros((0, 2)))
    if problems:
        raise ValidationErrors(problems) if len(problems) > 1 else problems[0]
    return District(
        name=scenario.name,
        crs=crs.to_string(),
        demand=Demand(d_ids, xy(demand_gdf), pop),
        sites=Sites(s_ids, names, kinds, xy(sites_gdf), area, cost, allowed),
        existing=existing,
        service_keys=services,
        group_keys=groups,
    )


def _allowed_matrix(sites: gpd.GeoDataFrame, services: tuple[str, ...], known: frozenset[str],
                    path: Path, problems: list[SitingError]) -> np.ndarray:
    """Boolean (sites × services): the ``allowed`` column, ';'-separated keys, empty = any."""
    m = len(sites)
    if "allowed" not in sites.columns:
        return np.ones((m, len(services)), dtype=bool)
    index = {k: i for i, k in enumerate(services)}
    known_anywhere = known | set(index)
    out = np.zeros((m, len(services)), dtype=bool)
    cells = sites["allowed"].astype("string").fillna("").to_numpy(dtype=object)
    for row, cell in enumerate(cells):  # one pass over sites, not over pairs
        keys = [k.strip() for k in str(cell).replace(",", ";").split(";") if k.strip()]
        if not keys:
            out[row, :] = True
            continue
        for k in keys:
            if k in index:
                out[row, index[k]] = True
            elif k not in known_anywhere:
                problems.append(DataError(
                    f"{where(path, 'allowed', row + 1)}: unknown service {k!r}; known services: "
                    f"{sorted(known_anywhere)}"))
    return out
