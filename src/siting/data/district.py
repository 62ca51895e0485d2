"""The district: demand points, candidate sites and existing facilities, in metres.

:func:`load_district` reads the scenario's tables through :mod:`siting.data.readers`, checks every
row of every file and lists every problem at once, projects all coordinates to one metric CRS
(the UTM zone of the data's centroid when the input is in degrees; tables in other CRSs are
reprojected, with a note) and returns plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
from pyproj import CRS

from siting.data import readers as io
from siting.data.catalogue import Catalogue, default_catalogue
from siting.data.coords import to_wgs84
from siting.data.scenario import Scenario
from siting.errors import DataError, ScenarioError, SitingError, raise_problems, rows_text

#: More residents than this at one demand point (a building or a block) is implausible.
MAX_RESIDENTS_PER_POINT = 100_000
#: More floor area than this in one idle building is implausible (a unit mistake).
MAX_FLOOR_AREA_M2 = 1_000_000
#: A retrofit cost above this for one building is implausible (a unit mistake), in yuan.
MAX_RETROFIT_COST = 10_000_000_000
#: Points further than this from the middle of the demand are not part of the same district.
MAX_SPREAD_M = 100_000


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
    notes: tuple[str, ...] = ()



def metric_crs(points: gpd.GeoSeries | gpd.GeoDataFrame) -> CRS:
    """A metric CRS for the data: itself when projected in metres, else the UTM zone of its centroid."""
    crs = CRS.from_user_input(points.crs)
    if crs.is_projected:
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit in ("metre", "meter"):
            return crs
    lonlat = points.to_crs("EPSG:4326").geometry if isinstance(points, gpd.GeoDataFrame) else points.to_crs(4326)
    lon = float(np.mean(lonlat.x))
    lat = float(np.mean(lonlat.y))
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _datum_to_wgs84(table: io.PointTable, system: str, problems: list[SitingError]) -> io.PointTable:
    """A table whose lon/lat are in GCJ-02 or BD-09, moved to their WGS84 position."""
    if table.points is None or table.crs is None:
        return table
    if not table.crs.is_geographic:
        problems.append(DataError(
            f"{table.place('data.coordinates')}: data.coordinates is '{system}', which applies to lon/lat "
            f"degrees, but this file is in {table.crs.to_string()}; give lon/lat or set data.coordinates to wgs84"))
        return table
    lon, lat = to_wgs84(table.points.x.to_numpy(), table.points.y.to_numpy(), system)
    return replace(table, points=gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326"),
                   crs=CRS.from_epsg(4326))


def load_district(scenario: Scenario, catalogue: Catalogue) -> District:
    """Read and check the scenario's data, project it to metres.

    Every file is read and every column checked before anything is raised, so that one run
    lists every problem of every file.

    Parameters
    ----------
    scenario
        The validated scenario.
    catalogue
        Services and age groups in play.

    Returns
    -------
    District
        Demand, sites and existing facilities as arrays in one metric CRS, and notes (tables
        reprojected, encodings guessed) for the report.

    Raises
    ------
    SitingError
        One problem, or :class:`~siting.errors.ValidationErrors` listing all of them.
    """
    data = scenario.data
    origin = str(scenario.source or scenario.name)
    problems: list[SitingError] = []
    notes: list[str] = []
    data_crs = None
    if data.crs:
        try:
            data_crs = io.parse_crs(data.crs, origin=origin)
        except DataError as e:
            problems.append(e)
    tables: dict[str, io.PointTable | None] = {}
    for role, path in (("demand", data.demand), ("sites", data.sites), ("existing", data.existing)):
        if path is not None:
            tables[role] = io.read_table(path, role=role, crs=data_crs, problems=problems, notes=notes,
                                         crs_given=bool(data.crs))
    demand_t, sites_t, existing_t = tables.get("demand"), tables.get("sites"), tables.get("existing")
    known_services = frozenset(catalogue.service_keys) | frozenset(default_catalogue().service_keys)
    demand = _demand_columns(demand_t, catalogue, problems) if demand_t is not None else None
    sites = _site_columns(sites_t, catalogue, known_services, problems) if sites_t is not None else None
    existing = (_existing_columns(existing_t, catalogue, known_services, problems)
                if existing_t is not None else None)
    if data.coordinates != "wgs84":  # web-map datums: to WGS84 before projecting
        for role, t in tables.items():
            if t is not None:
                tables[role] = _datum_to_wgs84(t, data.coordinates, problems)
        demand_t, sites_t, existing_t = tables.get("demand"), tables.get("sites"), tables.get("existing")
    placed = [t for t in (demand_t, sites_t, existing_t) if t is not None and t.points is not None]
    xy: dict[str, np.ndarray] = {}
    crs = None
    if placed:
        crs = metric_crs(placed[0].points)
        crss = {t.crs.to_string() for t in placed if t.crs is not None}
        if len(crss) > 1:
            notes.append("the tables come in different CRSs (" + "; ".join(
                f"{t.path.name}: {t.crs.to_string()}" for t in placed if t.crs is not None)
                + f"); all were reprojected to {crs.to_string()}")
        for t in placed:
            g = t.points.to_crs(crs)  # type: ignore[union-attr]
            xy[t.role] = np.column_stack([g.x.to_numpy(), g.y.to_numpy()])
        _check_spread(tables, xy, problems)
    raise_problems(problems)
    assert demand_t is not None and sites_t is not None and demand is not None and sites is not None
    assert crs is not None
    if existing is not None:
        e_ids, e_names, e_service = existing
        keep = e_service >= 0
        existing_arrays = Existing(e_ids[keep], e_names[keep], e_service[keep], xy["existing"][keep])
    else:
        existing_arrays = Existing(np.array([], dtype=object), np.array([], dtype=object),
                                   np.array([], dtype=np.int64), np.zeros((0, 2)))
    s_ids, names, kinds, area, cost, allowed = sites
    d_ids, pop = demand
    allowed = site_services_allowed(scenario, catalogue, s_ids, allowed)
    return District(
        name=scenario.name,
        crs=crs.to_string(),
        demand=Demand(d_ids, xy["demand"], pop),
        sites=Sites(s_ids, names, kinds, xy["sites"], area, cost, allowed),
        existing=existing_arrays,
        service_keys=catalogue.service_keys,
        group_keys=catalogue.group_keys,
        notes=tuple(notes),
    )


def site_services_allowed(scenario: Scenario, catalogue: Catalogue, site_ids: np.ndarray,
                          allowed: np.ndarray) -> np.ndarray:
    """The ledger's ``allowed`` matrix (sites × services) narrowed by ``requirements.site_services``.

    A site named there may host only the services listed for it (and only those the ledger
    allows); services known to the catalogue but not in play are ignored.

    Raises
    ------
    ScenarioError
        A site id not in the ledger, or a service key no catalogue knows.
    """
    wanted = scenario.requirements.site_services
    if not wanted:
        return allowed
    origin = str(scenario.source or scenario.name)
    known = frozenset(catalogue.service_keys) | frozenset(default_catalogue().service_keys)
    row = {str(sid): j for j, sid in enumerate(site_ids)}
    col = {k: s for s, k in enumerate(catalogue.service_keys)}
    out = allowed.copy()
    problems: list[SitingError] = []
    for sid, keys in wanted.items():
        unknown = sorted(set(keys) - known)
        if sid not in row:
            problems.append(ScenarioError(f"{origin}, field 'requirements.site_services': site id '{sid}' is not in "
                                          f"{scenario.data.sites}; use an id of the ledger"))
        elif unknown:
            problems.append(ScenarioError(f"{origin}, field 'requirements.site_services.{sid}': unknown service(s) "
                                          f"{unknown}; known: {sorted(known)}"))
        else:
            keep = np.zeros(len(catalogue.service_keys), dtype=bool)
            keep[[col[k] for k in keys if k in col]] = True
            out[row[sid]] &= keep
    raise_problems(problems)
    return out


def _check_spread(tables: dict[str, io.PointTable | None], xy: dict[str, np.ndarray],
                  problems: list[SitingError]) -> None:
    """Report points too far from the middle of the demand to belong to the same district."""
    centre_role = "demand" if "demand" in xy else next(iter(xy))
    centre = np.median(xy[centre_role], axis=0)
    for role, points in xy.items():
        table = tables[role]
        assert table is not None
        dist = np.hypot(*(points - centre).T)
        far = np.flatnonzero(dist > MAX_SPREAD_M)
        if far.size:
            first = table.points.iloc[int(far[0])] if table.points is not None else None
            shown = f"({first.x:g}, {first.y:g}) is " if first is not None else ""
            problems.append(DataError(
                f"{table.place('lon/lat' if table.crs is not None and table.crs.is_geographic else 'x/y')}, "
                f"{rows_text(far, table.id_column())}: {shown}{dist[far[0]] / 1000:,.0f} km from the middle of the "
                f"{centre_role} points, too far to be part of the same district; check these coordinates "
                f"(swapped, zero or in another CRS than the file says)"))


def _demand_columns(t: io.PointTable, catalogue: Catalogue,
                    problems: list[SitingError]) -> tuple[np.ndarray, np.ndarray] | None:
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id"], path, problems, layer=layer)
    d_ids = io.ids(df, path, problems, layer=layer) if ok else np.full(len(df), "", dtype=object)
    ids = t.id_column()
    groups = catalogue.group_keys
    missing_groups = [g for g in groups if g not in df.columns]
    fix = "residents cannot be negative; correct the count"
    if missing_groups and "population" in df.columns:
        total = io.numeric(df, "population", path, minimum=0, problems=problems, ids=ids, layer=layer,
                           what="a number of residents", fix=fix)
        shares = np.array([catalogue.group(g).census_share or 0.0 for g in groups])
        if shares.sum() <= 0:
            problems.append(DataError(
                f"{t.place('population')}: only a 'population' column, and the age groups have no census_share "
                f"to split it; add columns {list(groups)}"))
        pop = np.outer(total, shares / max(shares.sum(), 1e-12))
    elif missing_groups:
        problems.append(DataError(
            f"{t.place(missing_groups[0])}: missing population column(s) {missing_groups}, one per age group "
            f"(or a single 'population' column split by census shares); the file has {list(df.columns)}"))
        return None
    else:
        pop = np.column_stack([io.numeric(df, g, path, minimum=0, problems=problems, ids=ids, layer=layer,
                                          what="a number of residents", fix=fix) for g in groups])
    total = pop.sum(axis=1)
    fine = np.isfinite(total)
    absurd = np.flatnonzero(fine & (total > MAX_RESIDENTS_PER_POINT))
    if absurd.size:
        problems.append(DataError(
            f"{t.place('/'.join(groups) if not missing_groups else 'population')}, {rows_text(absurd, ids)}: "
            f"{total[absurd[0]]:,.0f} residents at one point is implausible (more than "
            f"{MAX_RESIDENTS_PER_POINT:,}); check the unit (people, not density) or split the block into buildings"))
    if fine.all() and (pop >= 0).all() and total.sum() <= 0:
        problems.append(DataError(f"{t.place()}: every population count is zero; give the residents of each "
                                  f"building (columns {list(groups)})"))
    return d_ids, pop


def _site_columns(t: io.PointTable, catalogue: Catalogue, known: frozenset[str], problems: list[SitingError]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    df, path, layer = t.frame, t.path, t.layer
    ok = io.require_columns(df, ["id", "floor_area_m2", "retrofit_cost"], path, problems, layer=layer)
    if not ok:  # still check the columns that are there
        for col in ("floor_area_m2", "retrofit_cost"):
            if col in df.columns:
                io.numeric(df, col, path, minimum=0, positive=True, problems=problems, ids=t.id_column(),
                           layer=layer)
        if "id" in df.columns:
            io.ids(df, path, problems, layer=layer)
        return None
    ids = t.id_column()
    s_ids = io.ids(df, path, problems, layer=layer)
    area = io.numeric(df, "floor_area_m2", path, minimum=0, positive=True, maximum=MAX_FLOOR_AREA_M2,
                      problems=problems, ids=ids, layer=layer, what="the usable floor area in m²",
                      fix="a site without floor area can host nothing: give its usable area in m², or remove it")
    cost = io.numeric(df, "retrofit_cost", path, minimum=0, positive=True, maximum=MAX_RETROFIT_COST,
                      problems=problems, ids=ids, layer=layer, what="the retrofit cost in yuan",
                      fix="a conversion that costs nothing is almost always a blank exported as 0: "
                          "give the retrofit cost in yuan")
    names = io.text_column(df, "name", default=s_ids)
    kinds = io.text_column(df, "kind")
    allowed = _allowed_matrix(t, catalogue.service_keys, known, problems)
    return s_ids, names, kinds, area, cost, allowed


def _existing_columns(t: io.PointTable, catalogue: Catalogue, known: frozenset[str],
                      problems: list[SitingError]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    df, path, layer = t.frame, t.path, t.layer
    if not io.require_columns(df, ["id", "service"], path, problems, layer=layer):
        return None
    e_ids = io.ids(df, path, problems, layer=layer)
    e_names = io.text_column(df, "name", default=e_ids)
    keys = io.text_column(df, "service")
    ids = t.id_column()
    blank = np.flatnonzero(keys == "")
    if blank.size:
        problems.append(DataError(f"{t.place('service')}, {rows_text(blank, ids)}: empty service; give the key "
                                  f"of the service each facility offers (known: {sorted(known)})"))
    # an existing facility of a service not in play is simply not used; an unknown key is a mistake
    unknown = np.flatnonzero((keys != "") & ~np.isin(keys, np.array(sorted(known), dtype=object)))
    for key in sorted(set(keys[unknown])):
        rows = unknown[keys[unknown] == key]
        problems.append(DataError(f"{t.place('service')}, {rows_text(rows, ids)}: unknown service {key!r}; "
                                  f"known services: {sorted(known)}"))
    index = {k: i for i, k in enumerate(catalogue.service_keys)}
    e_service = np.array([index.get(k, -1) for k in keys], dtype=np.int64)
    return e_ids, e_names, e_service


def _allowed_matrix(t: io.PointTable, services: tuple[str, ...], known: frozenset[str],
                    problems: list[SitingError]) -> np.ndarray:
    """Boolean (sites × services): the ``allowed`` column, ';'-separated keys, empty = any."""
    m = len(t)
    if "allowed" not in t.frame.columns:
        return np.ones((m, len(services)), dtype=bool)
    index = {k: i for i, k in enumerate(services)}
    known_anywhere = known | set(index)
    out = np.zeros((m, len(services)), dtype=bool)
    unknown: dict[str, list[int]] = {}
    cells = io.text_column(t.frame, "allowed")
    for row, cell in enumerate(cells):  # one pass over sites, not over pairs
        keys = [k.strip() for k in str(cell).replace(",", ";").replace("；", ";").split(";") if k.strip()]
        if not keys:
            out[row, :] = True
            continue
        for k in keys:
            if k in index:
                out[row, index[k]] = True
            elif k not in known_anywhere:
                unknown.setdefault(k, []).append(row)
    for k, rows in sorted(unknown.items()):
        problems.append(DataError(f"{t.place('allowed')}, {rows_text(rows, t.id_column())}: unknown service {k!r}; "
                                  f"known services: {sorted(known_anywhere)}"))
    return out
