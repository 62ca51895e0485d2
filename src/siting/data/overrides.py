"""One way to change a scenario: ``extends:``, ``--vary``, variants and interactive edits all come here.

An override is a mapping of scenario fields to new values, written as dotted paths
(``weights.age_groups.elderly: 2``) or as nested mappings (``{weights: {age_groups: {elderly: 2}}}``),
and merged field by field over the scenario: mappings merge, everything else (numbers, text,
lists) replaces. Two shorthands change the service catalogue:

``walk_limit.<service>``
    the service's radius in metres along the street (the catalogue entry's ``radius_m``; a
    limit in minutes the scenario gave that service is dropped);
``walk_limit_scale``
    every service's limit × the factor — its radius, or its minutes where it has a limit in
    minutes (limits already overridden included).

The result is validated exactly as a scenario file is (:func:`apply_overrides`); a mistake
names the field and the origin of the override (the scenario file, the variant, the option).
This module knows scenarios only as pydantic models: it never imports the scenario schema, so
the scenario loader can use its merge for ``extends:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from siting.data.catalogue import build_catalogue
from siting.errors import ScenarioError

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Shorthand fields that change the catalogue rather than a field of their own name.
WALK_LIMIT = "walk_limit"
WALK_LIMIT_SCALE = "walk_limit_scale"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``: mappings merge key by key, every other value replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def nested_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted keys (``weights.age_groups.elderly``) into nested mappings, merged."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1]
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last] = deep_merge(node[last], nested_overrides(value))
        else:
            node[last] = nested_overrides(value) if isinstance(value, Mapping) else value
    return out


def field_errors(error: ValidationError, where: str) -> str:
    """A pydantic validation error as one line per field, in planners' words."""
    lines = []
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; check its spelling against the scenario schema (siting schema)"
        elif err["type"] == "missing":
            msg = "required field is missing; add it"
        lines.append(f"{where}, field '{loc}': {msg}")
    return "\n".join(lines)


def _catalogue_entries(raw: dict[str, Any]) -> list[dict[str, Any]]:
    catalogue = raw.get("catalogue")
    if not isinstance(catalogue, dict):
        catalogue = raw["catalogue"] = {}
    entries = catalogue.get("services")
    entries = [dict(e) for e in entries] if isinstance(entries, list) else []
    catalogue["services"] = entries
    return entries


def _set_walk_limit(raw: dict[str, Any], service: str, value: Any) -> None:
    entries = _catalogue_entries(raw)
    for entry in entries:
        if entry.get("key") == service:
            entry["radius_m"] = value
            entry.pop("walk_limit_min", None)
            return
    entries.append({"key": service, "radius_m": value})


def _scale_walk_limits(raw: dict[str, Any], factor: float, where: str) -> None:
    entries = _catalogue_entries(raw)
    groups = raw["catalogue"].get("age_groups") or []
    replace = bool(raw["catalogue"].get("replace", False))
    catalogue = build_catalogue(entries, groups, origin=where, replace=replace)
    given = {e.get("key"): e for e in entries}
    for service in catalogue.services:
        entry = given.get(service.key)
        if entry is None:
            entry = {"key": service.key}
            entries.append(entry)
        if service.walk_limit_min is not None:
            entry["walk_limit_min"] = float(service.walk_limit_min) * float(factor)
        elif service.radius_m is not None:
            entry["radius_m"] = float(service.radius_m) * float(factor)


def expand_shorthands(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Turn ``walk_limit`` and ``walk_limit_scale`` into catalogue overrides (in place; returned)."""
    limits = raw.pop(WALK_LIMIT, None)
    if isinstance(limits, Mapping):
        for service, value in limits.items():
            _set_walk_limit(raw, str(service), value)
    elif limits is not None:
        raise ScenarioError(f"{where}, field '{WALK_LIMIT}': give it per service, e.g. {WALK_LIMIT}.canteen=7")
    scale = raw.pop(WALK_LIMIT_SCALE, None)
    if scale is not None:
        try:
            factor = float(scale)
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}, field '{WALK_LIMIT_SCALE}': {scale!r} is not a number") from None
        if not factor > 0:
            raise ScenarioError(f"{where}, field '{WALK_LIMIT_SCALE}': the factor must be above 0, got {factor:g}")
        _scale_walk_limits(raw, factor, where)
    return raw


def apply_overrides(scenario: ModelT, overrides: Mapping[str, Any], *, label: str = "") -> ModelT:
    """A copy of the scenario with some fields changed, validated like a scenario file.

    Parameters
    ----------
    scenario
        The scenario (any scenario-like pydantic model with a ``source``).
    overrides
        Dotted paths or nested mappings to new values; ``walk_limit.<service>`` and
        ``walk_limit_scale`` as in the module docstring.
    label
        Where the overrides come from, for messages (``variant 'budget-x2'``, ``--vary budget=...``).

    Raises
    ------
    ScenarioError
        Naming the origin and each field whose new value is not accepted.
    """
    source = getattr(scenario, "source", None) or getattr(scenario, "name", "scenario")
    where = f"{source}, {label}" if label else str(source)
    raw = deep_merge(scenario.model_dump(mode="python", exclude={"source"}), nested_overrides(overrides))
    expand_shorthands(raw, where)
    try:
        changed = type(scenario).model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(field_errors(e, where)) from None
    return changed.model_copy(update={"source": getattr(scenario, "source", None),
                                      "sources": getattr(scenario, "sources", ())})


__all__ = ["WALK_LIMIT", "WALK_LIMIT_SCALE", "apply_overrides", "deep_merge", "expand_shorthands", "field_errors",
           "nested_overrides"]
