"""The district: demand points, candidate sites and existing facilities, in metres.

:func:`load_district` reads the scenario's tables through :mod:`siting.data.readers`, checks every
row of every file and lists every problem at once, projects all coordinates to one metric CRS
(the UTM zone of the data's centroid when the input is in degrees; tables in other CRSs are
reprojected, with a note) and returns plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
from pyproj import CRS

from siting.data import readers as io
from siting.data.catalogue import Catalogue, known_service_names
from siting.data.census import group_columns, spread_census
from siting.data.placement import neighbour_zone_hint, to_lonlat
from siting.data.pois import read_type_table
from siting.data.scenario import CensusTable, Scenario
from siting.data.tables import check_population, demand_columns, existing_columns, site_columns
from siting.errors import DataError, ScenarioError, SitingError, raise_problems, rows_text

if TYPE_CHECKING:  # the readers of optional inputs (datums, cost matrix, needs) are imported when given
    from siting.data.cost_matrix import CostMatrix

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
    community
        The community (社区) of each point, when the data gives it.
    need_weight
        Multiplier of each point's weight in the objective per service in play, shape
        (n, services), from the needs list (:mod:`siting.data.needs`); ``None``: 1 everywhere.
    """

    ids: np.ndarray
    xy: np.ndarray
    population: np.ndarray
    community: np.ndarray | None = None
    need_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def communities(self) -> np.ndarray:
        """The community of each building (``""`` for every building when the data gives none)."""
        if self.community is None:
            return np.full(len(self.ids), "", dtype=object)
        return self.community

    def take(self, rows: np.ndarray) -> Demand:
        """The demand points of ``rows`` (indices or a mask), every array alike."""
        return Demand(self.ids[rows], self.xy[rows], self.population[rows],
                      None if self.community is None else self.community[rows],
                      None if self.need_weight is None else self.need_weight[rows])


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
        Cost of converting the site paid once if it hosts any service (the whole conversion, or
        its fixed part: structure, fire safety), in yuan.
    allowed
        Which services each site may host, boolean shape (m, services).
    cost_per_m2
        Cost per m² of floor area the plan converts, in yuan (0 where the ledger gives one
        cost for the whole building): a large building may be converted in part.
    """

    ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    xy: np.ndarray
    floor_area: np.ndarray
    retrofit_cost: np.ndarray
    allowed: np.ndarray
    cost_per_m2: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def area_cost(self) -> np.ndarray:
        """Cost per m² converted of every site (zeros where the ledger gives one cost)."""
        return self.cost_per_m2 if self.cost_per_m2 is not None else np.zeros(len(self.ids))


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
    """Everything the walking and coverage stages need, in one metric CRS.

    Attributes
    ----------
    crs
        The metric CRS of every ``xy``; ``None`` when the tables have no coordinates (a
        scenario with a cost matrix: every ``xy`` is then ``nan`` and no map is drawn).
    costs
        The walking costs of ``data.cost_matrix``, read instead of walking; ``None`` otherwise.
    """

    name: str
    crs: str | None
    demand: Demand
    sites: Sites
    existing: Existing
    service_keys: tuple[str, ...]
    group_keys: tuple[str, ...]
    notes: tuple[str, ...] = ()
    costs: CostMatrix | None = None

    @property
    def located(self) -> bool:
        """True when every point has coordinates (maps can be drawn)."""
        return self.crs is not None


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


def _datum_to_wgs84(table: io.PointTable, system: str, own: bool, problems: list[SitingError],
                    notes: list[str]) -> io.PointTable:
    """A table whose lon/lat are in GCJ-02 or BD-09, moved to their WGS84 position."""
    if table.points is None or table.crs is None or len(table) == 0:
        return table
    if not table.crs.is_geographic:
        if own:
            problems.append(DataError(
                f"{table.place()}, field 'data.{table.role}.coordinates': '{system}' applies to lon/lat degrees, but "
                f"this table is in {table.crs.to_string()}; give lon/lat, or remove 'coordinates' from the table"))
        else:
            notes.append(f"{table.place()}: data.coordinates '{system}' applies to lon/lat tables; this one is in "
                         f"{table.crs.to_string()} and is read as it is")
        return table
    from siting.data.coords import to_wgs84

    lon, lat = to_wgs84(table.points.x.to_numpy(), table.points.y.to_numpy(), system)
    notes.append(f"{table.place()}: lon/lat read as {system.upper()} (web-map datum) and moved to WGS84")
    return replace(table, points=gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326"),
                   crs=CRS.from_epsg(4326))


def _types(scenario: Scenario, problems: list[SitingError]) -> dict[str, str] | None:
    """The scenario's POI type → service mapping (inline, or a two-column table)."""
    spec = scenario.data.table("existing")
    types = getattr(spec, "types", None)
    if types is None or isinstance(types, dict):
        return types
    table = io.read_table(Path(types), role="poi types", crs=None, problems=problems, notes=[], coordinates=False)
    if table is None:
        return None
    rows = [[str(c) for c in table.frame.columns], *table.frame.astype(str).to_numpy().tolist()]
    return read_type_table(table.path, rows, problems)


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
        Demand, sites and existing facilities as arrays in one metric CRS, and notes (headers
        recognised, units converted, tables reprojected, census spread...) for the report.

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
    groups = group_columns(catalogue)
    names = known_service_names(catalogue)
    matrix = data.cost_matrix is not None  # walking costs given: coordinates only for the maps
    tables: dict[str, io.PointTable | None] = {}
    for role in ("demand", "sites", "existing", "census", "needs"):
        spec = data.table(role)
        if spec is not None:
            tables[role] = io.read_table(spec, role=role, crs=data_crs, problems=problems, notes=notes,
                                         crs_given=bool(data.crs), extra_columns=groups,
                                         allow_empty=role in ("existing", "needs"),
                                         coordinates=role in ("demand", "sites", "existing") and (
                                             "optional" if matrix else True))
    for role in ("demand", "sites", "existing"):  # web-map datums: to WGS84 before projecting
        t, spec = tables.get(role), data.table(role)
        system = (spec.coordinates if spec is not None else None) or data.coordinates
        if t is not None and system != "wgs84":
            tables[role] = _datum_to_wgs84(t, system, spec is not None and spec.coordinates is not None,
                                           problems, notes)
    demand_t, sites_t, existing_t = tables.get("demand"), tables.get("sites"), tables.get("existing")
    census_t, needs_t = tables.get("census"), tables.get("needs")
    demand = None
    community = None
    if demand_t is not None and census_t is not None:
        census_spec = data.table("census")
        assert isinstance(census_spec, CensusTable)
        spread = spread_census(demand_t, census_t, census_spec, catalogue, problems, notes)
        if "id" in demand_t.frame.columns:
            d_ids = io.ids(demand_t.frame, demand_t.path, problems, layer=demand_t.layer)
        else:
            io.require_columns(demand_t.frame, ["id"], demand_t.path, problems, layer=demand_t.layer)
            d_ids = None
        if spread is not None and d_ids is not None:
            demand = d_ids, check_population(demand_t, spread.population, catalogue, problems)
            community = spread.community
    elif demand_t is not None:
        demand = demand_columns(demand_t, catalogue, problems, notes)
        if "community" in demand_t.frame.columns:
            community = io.text_column(demand_t.frame, "community")
    sites = site_columns(sites_t, catalogue, names, problems, notes) if sites_t is not None else None
    existing = (existing_columns(existing_t, catalogue, names, _types(scenario, problems), problems, notes)
                if existing_t is not None else None)
    weights: np.ndarray | None = None
    if needs_t is not None and len(needs_t):
        from siting.data.needs import need_weights

        weights = need_weights(needs_t, community, catalogue, names, problems, notes)
    costs = None
    if matrix:
        from siting.data.cost_matrix import read_cost_matrix

        facility_ids = existing[0] if existing is not None else None  # None: the table could not be read
        if data.existing is None:
            facility_ids = np.zeros(0, dtype=object)
        costs = read_cost_matrix(
            data, demand_ids=demand[0] if demand is not None else None,
            site_ids=sites[0] if sites is not None else None, existing_ids=facility_ids,
            existing_in_play=existing[2] >= 0 if existing is not None else None,
            reference_speed_m_s=catalogue.reference_speed_m_s, problems=problems, notes=notes)
    placed = [t for t in (demand_t, sites_t, existing_t) if t is not None and t.points is not None and len(t)]
    unplaced = [t for t in (demand_t, sites_t, existing_t) if t is not None and t.points is None and len(t)]
    if matrix and unplaced:
        notes.append(_no_map_note(unplaced, placed))
        placed = []
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
        _check_spread(tables, xy, crs, problems)
    raise_problems(problems)
    assert demand_t is not None and sites_t is not None and demand is not None and sites is not None
    assert crs is not None or matrix
    for role, t in (("demand", demand_t), ("sites", sites_t), ("existing", existing_t)):
        if role not in xy:  # no coordinates (a cost matrix gives the walking costs)
            xy[role] = np.full((len(t) if t is not None else 0, 2), np.nan)
    if existing is not None and len(existing[0]):
        e_ids, e_names, e_service = existing
        keep = e_service >= 0
        existing_arrays = Existing(e_ids[keep], e_names[keep], e_service[keep], xy["existing"][keep])
    else:
        existing_arrays = Existing(np.array([], dtype=object), np.array([], dtype=object),
                                   np.array([], dtype=np.int64), np.zeros((0, 2)))
    s_ids, labels, kinds, area, cost, allowed, per_m2 = sites
    d_ids, pop = demand
    allowed = site_services_allowed(scenario, catalogue, s_ids, allowed)
    return District(
        name=scenario.name,
        crs=crs.to_string() if crs is not None else None,
        demand=Demand(d_ids, xy["demand"], pop, community, weights),
        sites=Sites(s_ids, labels, kinds, xy["sites"], area, cost, allowed, per_m2),
        existing=existing_arrays,
        service_keys=catalogue.service_keys,
        group_keys=catalogue.group_keys,
        notes=tuple(notes),
        costs=costs,
    )


def _no_map_note(unplaced: list[io.PointTable], placed: list[io.PointTable]) -> str:
    """Why a district given a cost matrix has no map."""
    text = (f"no map is drawn: {', '.join(t.path.name for t in unplaced)} "
            f"{'has' if len(unplaced) == 1 else 'have'} no coordinates (the cost matrix gives the walking costs)")
    if placed:
        text += f"; the coordinates of {', '.join(t.path.name for t in placed)} are not used"
    return text + "; give every table lon/lat or x/y columns for a map"


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
    known = frozenset(known_service_names(catalogue).keys)
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


def _check_spread(tables: dict[str, io.PointTable | None], xy: dict[str, np.ndarray], crs: CRS,
                  problems: list[SitingError]) -> None:
    """Report points too far from the middle of the demand to belong to the same district."""
    centre_role = "demand" if "demand" in xy else next(iter(xy))
    centre = np.median(xy[centre_role], axis=0)
    centre_lonlat = to_lonlat(np.array([centre[0]]), np.array([centre[1]]), crs)
    for role, points in xy.items():
        table = tables[role]
        assert table is not None
        dist = np.hypot(*(points - centre).T)
        far = np.flatnonzero(dist > MAX_SPREAD_M)
        if far.size:
            first = table.points.iloc[int(far[0])] if table.points is not None else None
            geographic = table.crs is not None and table.crs.is_geographic
            shown = ("" if first is None else f"({first.x:g}, {first.y:g}) is " if geographic
                     else f"({first.x:,.0f}, {first.y:,.0f}) is ")
            hint = ""
            if table.points is not None and table.crs is not None and role != centre_role:
                hint = neighbour_zone_hint(table.points.x.to_numpy()[far], table.points.y.to_numpy()[far], table.crs,
                                           (float(centre_lonlat[0][0]), float(centre_lonlat[1][0])), MAX_SPREAD_M)
            problems.append(DataError(
                f"{table.place('lon/lat' if table.crs is not None and table.crs.is_geographic else 'x/y')}, "
                f"{rows_text(far, table.id_column())}: {shown}{dist[far[0]] / 1000:,.0f} km from the middle of the "
                f"{centre_role} points, too far to be part of the same district; check these coordinates "
                f"(swapped, zero or in another CRS than the file says){hint}"))
