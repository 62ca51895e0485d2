"""Scenario files: what to plan, with which data, under which limits.

A scenario is a YAML file validated against :class:`Scenario`. Paths inside it are relative
to the file. ``extends: base.yaml`` loads another scenario first and overrides it field by
field (mappings merge, everything else replaces), so a variant stays a few lines long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from siting.errors import ScenarioError

DEFAULT_SCENARIO = Path("scenarios") / "jiangbei-yubei.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkFiles(_Strict):
    """A walking network: CSV node and edge tables."""

    nodes: Path = Field(description="CSV: id, lon/lat or x/y, optional elevation_m")
    edges: Path = Field(description="CSV: u, v, optional highway (steps = stairs), optional length_m")


class DataFiles(_Strict):
    """The data files of a scenario, relative to the scenario file."""

    demand: Path = Field(description="Residential buildings: id, coordinates, one population column per age group")
    sites: Path = Field(description="Idle-asset ledger: id, name, coordinates, floor_area_m2, retrofit_cost, allowed")
    existing: Path | None = Field(default=None, description="Existing facilities: id, service, coordinates")
    network: NetworkFiles | None = Field(default=None, description="Walking network, for walking.mode: network")
    crs: str | None = Field(default=None, description="CRS of x/y coordinates in CSV files, e.g. EPSG:32648")


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


class Requirements(_Strict):
    """Requirements a plan must meet."""

    min_sites: dict[str, int] = Field(default_factory=dict, description="At least this many new sites per service")
    max_sites: dict[str, int] = Field(default_factory=dict, description="At most this many new sites per service")
    force_in: list[str] = Field(default_factory=list, description="Site ids that must be converted")
    force_out: list[str] = Field(default_factory=list, description="Site ids that must not be converted")


class SolverOptions(_Strict):
    """Solver backend and limits."""

    backend: str = Field(default="highs", description="highs, pulp-highs, pulp-cbc, ortools-cpsat, ortools-scip")
    time_limit_s: float = Field(default=60.0, gt=0)
    mip_gap: float = Field(default=1e-4, ge=0, lt=1)
    threads: int = Field(default=1, ge=1)
    seed: int = Field(default=0, ge=0)


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
    solver: SolverOptions = Field(default_factory=SolverOptions)
    analysis: Analysis = Field(default_factory=Analysis, description="Ranked options, robustness and frontier")
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
