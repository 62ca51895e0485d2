"""Service types and age groups: data, not code.

The defaults live in ``services.yaml`` and ``age_groups.yaml`` beside this module, each figure
with its source. A scenario may override any field of a known service or age group, or define
new ones inline; :func:`build_catalogue` merges the overrides over the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from siting.data.catalogue.names import ServiceNames, default_aliases, normalise_name
from siting.errors import CatalogueError


class AgeGroup(BaseModel):
    """One age group: its key, names, walking speed and census share."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    ages: str = ""
    speed_m_s: float = Field(gt=0.1, lt=3.0)
    census_share: float | None = Field(default=None, ge=0, le=1)
    source: str = ""


class Service(BaseModel):
    """One community service type and what it needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    level: int = Field(default=15, ge=1, le=60)
    walk_limit_min: float = Field(gt=0, le=60)
    floor_area_m2: float = Field(ge=0)
    serves: tuple[str, ...] = Field(min_length=1)
    fitout_yuan_per_m2: float = Field(default=0.0, ge=0)
    residents_per_m2: float = Field(default=0.0, ge=0)
    source: str = ""
    chosen: tuple[str, ...] = ()

    @property
    def fitout_cost(self) -> float:
        """Fit-out cost of one instance of the service, in yuan."""
        return self.fitout_yuan_per_m2 * self.floor_area_m2

    @property
    def label(self) -> str:
        """Bilingual label, e.g. ``老年人日间照料中心 Elderly day care centre``."""
        return f"{self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class Catalogue:
    """The services and age groups in play, in a fixed order.

    Attributes
    ----------
    services
        Service types, in catalogue order.
    age_groups
        Age groups, in catalogue order.
    """

    services: tuple[Service, ...]
    age_groups: tuple[AgeGroup, ...]

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

    def served_pairs(self) -> list[tuple[int, int]]:
        """(service index, group index) of every age group each service serves."""
        gidx = {k: i for i, k in enumerate(self.group_keys)}
        return [(si, gidx[g]) for si, s in enumerate(self.services) for g in s.serves]


@cache
def _default_raw() -> dict[str, list[dict[str, Any]]]:
    pkg = resources.files("siting.data.catalogue")
    services = yaml.safe_load(pkg.joinpath("services.yaml").read_text(encoding="utf-8"))
    groups = yaml.safe_load(pkg.joinpath("age_groups.yaml").read_text(encoding="utf-8"))
    return {"services": services["services"], "age_groups": groups["age_groups"]}


def _merge(
    defaults: list[dict[str, Any]],
    overrides: Iterable[Mapping[str, Any]],
    model: type[BaseModel],
    what: str,
    origin: str,
) -> list[dict[str, Any]]:
    merged = {d["key"]: dict(d) for d in defaults}
    for i, o in enumerate(overrides, start=1):
        if "key" not in o:
            raise CatalogueError(f"{origin}: {what} entry {i} has no 'key'; add one")
        merged[o["key"]] = {**merged.get(o["key"], {}), **dict(o)}
    for d in merged.values():
        try:
            model.model_validate(d)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise CatalogueError(
                f"{origin}: {what} '{d.get('key')}', field '{loc}': {first['msg']}"
                + (" (a new entry needs every field)" if first["type"] == "missing" else "")
            ) from None
    return list(merged.values())


def build_catalogue(
    service_overrides: Iterable[Mapping[str, Any]] = (),
    group_overrides: Iterable[Mapping[str, Any]] = (),
    *,
    services: Iterable[str] | None = None,
    origin: str = "catalogue",
) -> Catalogue:
    """Merge scenario overrides over the default catalogue.

    Parameters
    ----------
    service_overrides
        Entries keyed by ``key``; fields of a known service replace the default, a new key
        defines a new service (every field required).
    group_overrides
        The same for age groups.
    services
        Keys of the services in play, in this order; all of them when ``None``.
    origin
        Where the overrides come from, for error messages (the scenario file).

    Returns
    -------
    Catalogue
        The merged catalogue.
    """
    raw = _default_raw()
    svc = _merge(raw["services"], service_overrides, Service, "service", origin)
    grp = _merge(raw["age_groups"], group_overrides, AgeGroup, "age group", origin)
    by_key = {d["key"]: Service.model_validate(d) for d in svc}
    if services is not None:
        names = ServiceNames((s.key, s.name_zh, s.name_en) for s in by_key.values())
        keys = [names.key(k) or k for k in services]
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise CatalogueError(
                f"{origin}: field 'services' names unknown service(s) {unknown}: "
                + "; ".join(names.unknown(k) for k in unknown)
            )
        chosen = [by_key[k] for k in keys]
    else:
        chosen = list(by_key.values())
    return Catalogue(tuple(chosen), tuple(AgeGroup.model_validate(d) for d in grp))


def default_catalogue() -> Catalogue:
    """The default catalogue, without overrides."""
    return build_catalogue()


def known_service_names(catalogue: Catalogue) -> ServiceNames:
    """Names of the services in play first, then of every default service (known, maybe not in play)."""
    return ServiceNames.of(catalogue, default_catalogue())


__all__ = ["AgeGroup", "Catalogue", "Service", "ServiceNames", "build_catalogue", "default_aliases",
           "default_catalogue", "known_service_names", "normalise_name"]


