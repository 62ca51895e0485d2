"""A three-group catalogue in minutes, for tests of the engine rather than of the standards' figures.

Tests that check the optimizer, the walking stage or the outputs against brute force or hand
calculations need a small, fixed model that does not move when the standards' table is
revised: three age groups (children, working age, elderly) walking at their own speeds, limits
in minutes, and the weighted-coverage objective. Written as a scenario's ``catalogue`` section
with ``replace: true`` — exactly what a planner who wants such a model would write.
"""

from __future__ import annotations

from typing import Any

GROUPS = [
    {"key": "children", "name_zh": "儿童", "name_en": "Children", "speed_m_s": 1.0, "census_share": 0.1591},
    {"key": "working", "name_zh": "劳动年龄人口", "name_en": "Working age", "speed_m_s": 1.25, "census_share": 0.6222},
    {"key": "elderly", "name_zh": "老年人", "name_en": "Elderly", "speed_m_s": 0.9, "census_share": 0.2187},
]

#: key: (minutes, floor area m², fit-out yuan/m², residents served per m², groups served)
_SERVICES: dict[str, tuple[float, float, float, float, list[str]]] = {
    "elderly_day_care": (5, 350, 1500, 8.0, ["elderly"]),
    "health_station": (5, 120, 2500, 60.0, ["children", "working", "elderly"]),
    "kindergarten": (5, 1800, 1800, 1.5, ["children"]),
    "childcare": (5, 300, 1800, 3.0, ["children"]),
    "canteen": (10, 250, 2000, 12.0, ["working", "elderly"]),
    "culture_station": (10, 250, 1200, 20.0, ["children", "working", "elderly"]),
    "study_room": (15, 150, 1500, 40.0, ["children", "working"]),
    "sports_space": (15, 800, 1000, 15.0, ["children", "working"]),
    "night_school": (15, 300, 1000, 30.0, ["working", "elderly"]),
    "coworking": (15, 400, 1200, 10.0, ["working"]),
    "service_station": (5, 600, 1000, 20.0, ["children", "working", "elderly"]),
}


def service(key: str) -> dict[str, Any]:
    """One service of the legacy catalogue as a catalogue entry."""
    minutes, area, fitout, per_m2, serves = _SERVICES[key]
    return {"key": key, "name_zh": key, "name_en": key.replace("_", " "), "level": int(minutes),
            "walk_limit_min": float(minutes), "floor_area_m2": area, "fitout_yuan_per_m2": fitout,
            "m2_per_1000_target": 1000.0 / per_m2, "serves": list(serves), "category": "basic"}


def catalogue(services: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The scenario's ``catalogue`` section: the legacy groups and services (all of them by default)."""
    keys = list(services) if services is not None else list(_SERVICES)
    return {"replace": True, "age_groups": [dict(g) for g in GROUPS], "services": [service(k) for k in keys]}


def scenario_fields(services: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """``catalogue`` and ``objective`` of a scenario using the legacy model."""
    return {"catalogue": catalogue(services), "objective": {"kind": "coverage"}}
