"""Service types and age groups: the standards' table, as data.

The defaults live in ``services.yaml`` and ``age_groups.yaml`` beside this module: every
service's radius, level, class (basic / quality), target age bands, building area and capacity
norm, every age band's walking speed and census share, each figure with its source or the
reason it was chosen. A scenario may override any field of a known service or age group,
define new ones inline, or replace the defaults altogether (``catalogue: {replace: true}``);
:func:`build_catalogue` merges the overrides over the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siting.data.catalogue.names import ServiceNames, default_aliases, normalise_name
from siting.data.catalogue.shipped import read_shipped_yaml
from siting.errors import CatalogueError

Category = Literal["basic", "quality"]
#: The reference walker of the standards' radii when a catalogue gives none (see age_groups.yaml).
REFERENCE_SPEED_M_S = 1.0


class _Figures(BaseModel):
    """Where each figure of an entry comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[str, str] = Field(default_factory=dict, description="Figure → the clause or table it comes from")
    chosen: dict[str, str] = Field(default_factory=dict, description="Figure → why siting (or you) chose it")
    unconfirmed: tuple[str, ...] = Field(
        default=(), description="Cited figures not checked against a readable copy of the source")


class AgeGroup(_Figures):
    """One age band: its key, names, walking speed and census share."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    ages: str = ""
    speed_m_s: float = Field(gt=0.1, lt=3.0)
    census_share: float | None = Field(default=None, ge=0, le=1)

    @property
    def label(self) -> str:
        """Bilingual label, e.g. ``低龄老年人（60–79岁） Seniors (60–79)``."""
        return f"{self.name_zh} {self.name_en}"


class Service(_Figures):
    """One community service type: the standards' figures and what it needs.

    Its reach is ``radius_m`` along the street for a walker at the reference speed (an age
    group reaches ``radius_m × min(1, speed / reference speed)``), or, when ``walk_limit_min``
    is given, that many minutes at each age group's own speed.
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    level: int = Field(default=15, ge=1, le=60)
    radius_m: float | None = Field(default=None, gt=0, le=10_000)
    walk_limit_min: float | None = Field(default=None, gt=0, le=120)
    category: Category = "basic"
    floor_area_m2: float = Field(ge=0)
    floor_area_range_m2: tuple[float, float] | None = None
    serves: tuple[str, ...] = Field(min_length=1)
    fitout_yuan_per_m2: float = Field(default=0.0, ge=0)
    m2_per_1000_target: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _a_walking_limit(self) -> Service:
        if self.radius_m is None and self.walk_limit_min is None:
            raise ValueError("give the service radius in metres (radius_m) or a limit in minutes (walk_limit_min)")
        return self

    @property
    def fitout_cost(self) -> float:
        """Fit-out cost of one instance of the service, in yuan."""
        return self.fitout_yuan_per_m2 * self.floor_area_m2

    @property
    def capacity(self) -> float:
        """Residents of the target bands one facility serves (``inf`` without a capacity norm)."""
        if self.m2_per_1000_target is None:
            return float("inf")
        return self.floor_area_m2 / self.m2_per_1000_target * 1000.0

    @property
    def label(self) -> str:
        """Bilingual label, e.g. ``老年人日间照料中心 Elderly day care centre``."""
        return f"{self.name_zh} {self.name_en}"

    @property
    def limit_text(self) -> str:
        """The walking limit in words: ``300 m`` or ``10 min``."""
        if self.walk_limit_min is not None:
            return f"{self.walk_limit_min:g} min"
        return f"{self.radius_m:,.0f} m"


@dataclass(frozen=True)
class Catalogue:
    """The services and age groups in play, in a fixed order.

    Attributes
    ----------
    services
        Service types, in catalogue order.
    age_groups
        Age groups, in catalogue order.
    reference_speed_m_s
        The walker of the service radii.
    aggregates
        Names of coarser groups (``elderly``, ``population``...) → the bands they hold.
    """

    services: tuple[Service, ...]
    age_groups: tuple[AgeGroup, ...]
    reference_speed_m_s: float = REFERENCE_SPEED_M_S
    aggregates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        groups = {g.key for g in self.age_groups}
        for s in self.services:
            unknown = [g for g in s.serves if g not in groups]
            if unknown:
                raise CatalogueError(
                    f"service '{s.key}' serves unknown age group(s) {unknown}; "
                    f"known age groups: {sorted(groups)}"
                )

    @property
    def service_keys(self) -> tuple[str, ...]:
        """Service keys in catalogue order."""
        return tuple(s.key for s in self.services)

    @property
    def group_keys(self) -> tuple[str, ...]:
        """Age-group keys in catalogue order."""
        return tuple(g.key for g in self.age_groups)

    def service(self, key: str) -> Service:
        """Return the service with this key.

        Raises
        ------
        CatalogueError
            When no service has this key.
        """
        for s in self.services:
            if s.key == key:
                return s
        raise CatalogueError(f"{self.names().unknown(key)}; services in play: {list(self.service_keys)}")

    def names(self) -> ServiceNames:
        """Every name of the services in play (keys, Chinese and English names, ``aliases.yaml``)."""
        return ServiceNames.of(self)

    def group(self, key: str) -> AgeGroup:
        """Return the age group with this key.

        Raises
        ------
        CatalogueError
            When no age group has this key.
        """
        for g in self.age_groups:
            if g.key == key:
                return g
        raise CatalogueError(f"unknown age group '{key}'; known age groups: {list(self.group_keys)}")

    def groups_of(self, key: str) -> tuple[str, ...]:
        """The bands a name selects: an age group itself, or the bands of an aggregate (``elderly``).

        Raises
        ------
        CatalogueError
            When the name is neither.
        """
        if key in self.group_keys:
            return (key,)
        bands = tuple(g for g in self.aggregates.get(key, ()) if g in self.group_keys)
        if bands:
            return bands
        raise CatalogueError(f"unknown age group '{key}'; known age groups: {list(self.group_keys)}"
                             + (f", or the coarser groups {sorted(self.aggregates)}" if self.aggregates else ""))

    def served_pairs(self) -> list[tuple[int, int]]:
        """(service index, group index) of every age group each service serves."""
        gidx = {k: i for i, k in enumerate(self.group_keys)}
        return [(si, gidx[g]) for si, s in enumerate(self.services) for g in s.serves]

    def reach_m(self, service: Service, group: AgeGroup) -> float:
        """How far along the street a resident of ``group`` reaches ``service``, flat-equivalent metres.

        ``radius_m × min(1, speed / reference speed)`` (the standard's radius, never exceeded,
        shorter for slower walkers), or ``walk_limit_min × 60 × speed`` for a limit in minutes.
        """
        if service.walk_limit_min is not None:
            return float(service.walk_limit_min) * 60.0 * group.speed_m_s
        assert service.radius_m is not None
        return float(service.radius_m) * min(1.0, group.speed_m_s / self.reference_speed_m_s)

    def service_capacity(self) -> np.ndarray:
        """Residents of the target bands one facility of each service serves (``inf``: no limit)."""
        return np.array([s.capacity for s in self.services])


@cache
def _default_raw() -> dict[str, Any]:
    services = read_shipped_yaml("services.yaml")
    groups = read_shipped_yaml("age_groups.yaml")
    return {"services": services["services"], "age_groups": groups["age_groups"],
            "reference_speed_m_s": float(groups["reference_speed_m_s"]),
            "reference_speed_source": str(groups.get("reference_speed_source", "")),
            "aggregates": {k: tuple(v) for k, v in groups.get("aggregates", {}).items()}}


def reference_speed_source() -> str:
    """Where the default reference speed comes from."""
    return str(_default_raw()["reference_speed_source"])


def _validate(entry: Mapping[str, Any], model: type[BaseModel], what: str, origin: str) -> None:
    try:
        model.model_validate(entry)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(
            f"{origin}: {what} '{entry.get('key')}', field '{loc or '(entry)'}': {first['msg']}"
            + (" (a new entry needs every field)" if first["type"] == "missing" else "")
        ) from None


def _merge(
    defaults: list[dict[str, Any]],
    overrides: Iterable[Mapping[str, Any]],
    model: type[BaseModel],
    what: str,
    origin: str,
    *,
    validate: bool = True,
) -> list[dict[str, Any]]:
    merged = {d["key"]: dict(d) for d in defaults}
    for i, o in enumerate(overrides, start=1):
        if "key" not in o:
            raise CatalogueError(f"{origin}: {what} entry {i} has no 'key'; add one")
        base = merged.get(o["key"], {})
        entry = {**base, **dict(o)}
        if base and ("radius_m" in o or "walk_limit_min" in o):  # a new limit replaces the old one
            for other in ("radius_m", "walk_limit_min"):
                if other not in o:
                    entry.pop(other, None)
        merged[o["key"]] = entry
    if validate:
        for d in merged.values():
            _validate(d, model, what, origin)
    return list(merged.values())


def build_catalogue(
    service_overrides: Iterable[Mapping[str, Any]] = (),
    group_overrides: Iterable[Mapping[str, Any]] = (),
    *,
    services: Iterable[str] | None = None,
    origin: str = "catalogue",
    replace: bool = False,
    reference_speed_m_s: float | None = None,
) -> Catalogue:
    """Merge scenario overrides over the default catalogue.

    Parameters
    ----------
    service_overrides
        Entries keyed by ``key``; fields of a known service replace the default, a new key
        defines a new service (every field required). ``serves`` may name coarser groups
        (``elderly``): they stand for their bands.
    group_overrides
        The same for age groups.
    services
        Keys of the services in play, in this order; all of them when ``None``.
    origin
        Where the overrides come from, for error messages (the scenario file).
    replace
        Start from no default service and no default age group: the overrides define them all.
    reference_speed_m_s
        The walker of the service radii (default: the catalogue's, 1.0 m/s).

    Returns
    -------
    Catalogue
        The merged catalogue.
    """
    raw = _default_raw()
    svc = _merge([] if replace else raw["services"], service_overrides, Service, "service", origin,
                 validate=False)
    grp = _merge([] if replace else raw["age_groups"], group_overrides, AgeGroup, "age group", origin)
    if not grp:
        raise CatalogueError(f"{origin}: field 'catalogue.age_groups': with replace: true, define at least one "
                             f"age group (key, name_zh, name_en, speed_m_s)")
    groups = tuple(AgeGroup.model_validate(d) for d in grp)
    keys = {g.key for g in groups}
    aggregates = {} if replace else {k: tuple(b for b in v if b in keys) for k, v in raw["aggregates"].items()}
    aggregates = {k: v for k, v in aggregates.items() if v and k not in keys}
    for d in svc:  # coarser groups in `serves` stand for their bands
        if "serves" in d:
            d["serves"] = list(dict.fromkeys(b for g in d["serves"] for b in aggregates.get(g, (g,))))
    for d in svc:
        _validate(d, Service, "service", origin)
    by_key = {d["key"]: Service.model_validate(d) for d in svc}
    if services is not None:
        names = ServiceNames((s.key, s.name_zh, s.name_en) for s in by_key.values())
        keys_in_play = [names.key(k) or k for k in services]
        unknown = [k for k in keys_in_play if k not in by_key]
        if unknown:
            raise CatalogueError(
                f"{origin}: field 'services' names unknown service(s) {unknown}: "
                + "; ".join(names.unknown(k) for k in unknown)
            )
        chosen = [by_key[k] for k in keys_in_play]
    else:
        chosen = list(by_key.values())
    if not chosen:
        raise CatalogueError(f"{origin}: field 'catalogue.services': with replace: true, define at least one service")
    speed = float(reference_speed_m_s) if reference_speed_m_s is not None else float(raw["reference_speed_m_s"])
    if not 0.1 < speed < 3.0:
        raise CatalogueError(f"{origin}: field 'catalogue.reference_speed_m_s': {speed:g} m/s is not a walking "
                             f"speed; the standards' radii assume about 1.0 m/s")
    return Catalogue(tuple(chosen), groups, speed, aggregates)


def default_catalogue() -> Catalogue:
    """The default catalogue, without overrides."""
    return build_catalogue()


def known_service_names(catalogue: Catalogue) -> ServiceNames:
    """Names of the services in play first, then of every default service (known, maybe not in play)."""
    return ServiceNames.of(catalogue, default_catalogue())


__all__ = ["REFERENCE_SPEED_M_S", "AgeGroup", "Catalogue", "Category", "Service", "ServiceNames", "build_catalogue",
           "default_aliases", "default_catalogue", "known_service_names", "normalise_name", "reference_speed_source"]
