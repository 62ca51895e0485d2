"""The service catalogue and age groups: the standards' table, every figure sourced, and overrides."""

from __future__ import annotations

import pytest

from siting.data.catalogue import build_catalogue, default_catalogue
from siting.errors import CatalogueError

#: The figures of a service and of an age group that must name a source or a reason.
SERVICE_FIGURES = ("level", "radius_m", "category", "serves", "floor_area_m2", "floor_area_range_m2",
                   "fitout_yuan_per_m2", "m2_per_1000_target", "walk_limit_min")
GROUP_FIGURES = ("speed_m_s", "census_share")


def test_default_catalogue_is_the_standards_table() -> None:
    cat = default_catalogue()
    assert cat.group_keys == ("infants", "preschool", "school_age", "working_age", "seniors", "oldest_old")
    assert sum(g.census_share or 0 for g in cat.age_groups) == pytest.approx(1.0, abs=2e-3)
    assert cat.reference_speed_m_s == 1.0
    basic = {s.key for s in cat.services if s.category == "basic"}
    quality = {s.key for s in cat.services if s.category == "quality"}
    assert {"elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
            "service_station", "sports_space", "outdoor_fitness", "fresh_market", "convenience_services"} == basic
    assert {"study_room", "night_school", "coworking"} == quality
    for s in cat.services:
        assert s.name_zh and s.name_en and s.level in (5, 10, 15)
        assert s.radius_m is not None and s.walk_limit_min is None  # the standards give radii
        if s.floor_area_range_m2 is not None:
            low, high = s.floor_area_range_m2
            assert low <= s.floor_area_m2 <= high, s.key  # the model's area lies in the standard's range
    # GB 50180-2018 Table C.0.2 as this project reads it (see the unconfirmed lists in services.yaml)
    assert cat.service("kindergarten").serves == ("preschool",)
    assert cat.service("childcare").serves == ("infants",)
    assert cat.service("kindergarten").floor_area_range_m2 == (3150, 4550)
    assert cat.service("culture_station").level == 5 and cat.service("culture_station").radius_m == 500
    assert cat.service("canteen").level == 5
    assert "seniors" in cat.service("sports_space").serves
    assert cat.service("elderly_day_care").serves == ("seniors", "oldest_old")


def test_every_figure_has_a_source_or_a_reason() -> None:
    """A figure without a source nor a `chosen` reason fails this test, naming it."""
    cat = default_catalogue()
    missing = []
    for s in cat.services:
        given = {f for f in SERVICE_FIGURES if getattr(s, f) is not None}
        for f in given - set(s.sources) - set(s.chosen):
            missing.append(f"service {s.key}: {f}")
        for f in set(s.unconfirmed) - set(s.sources):
            missing.append(f"service {s.key}: {f} is marked unconfirmed but cites nothing")
        for f, text in {**s.sources, **s.chosen}.items():
            assert text.strip(), f"service {s.key}: empty note for {f}"
    for g in cat.age_groups:
        given = {f for f in GROUP_FIGURES if getattr(g, f) is not None}
        for f in given - set(g.sources) - set(g.chosen):
            missing.append(f"age group {g.key}: {f}")
    assert not missing, "figures with neither a source nor a chosen reason:\n" + "\n".join(missing)


def test_the_source_check_would_fail_on_an_unsourced_figure() -> None:
    cat = build_catalogue([{"key": "canteen", "sources": {}, "chosen": {}}])
    s = cat.service("canteen")
    assert {f for f in SERVICE_FIGURES if getattr(s, f) is not None} - set(s.sources) - set(s.chosen)


def test_capacity_from_the_norm() -> None:
    cat = default_catalogue()
    kg = cat.service("kindergarten")
    assert kg.capacity == pytest.approx(3150 / 10500 * 1000)  # 300 children aged 3–5 per kindergarten
    assert cat.service("health_station").capacity == float("inf")


def test_override_and_new_service() -> None:
    cat = build_catalogue(
        [{"key": "canteen", "radius_m": 250},
         {"key": "tea_house", "name_zh": "茶馆", "name_en": "Tea house", "radius_m": 500,
          "floor_area_m2": 100, "serves": ["elderly"], "category": "quality"}],
        services=["canteen", "tea_house"])
    assert cat.service_keys == ("canteen", "tea_house")
    assert cat.service("canteen").radius_m == 250
    assert cat.service("canteen").floor_area_m2 == default_catalogue().service("canteen").floor_area_m2
    assert cat.service("tea_house").serves == ("seniors", "oldest_old")  # 'elderly' stands for its bands
    minutes = build_catalogue([{"key": "canteen", "walk_limit_min": 5}]).service("canteen")
    assert minutes.walk_limit_min == 5 and minutes.radius_m is None  # a new limit replaces the old one


def test_a_catalogue_of_ones_own() -> None:
    cat = build_catalogue(
        [{"key": "water", "name_zh": "取水点", "name_en": "Water point", "radius_m": 400, "floor_area_m2": 10,
          "serves": ["everyone"]}],
        [{"key": "everyone", "name_zh": "居民", "name_en": "Everyone", "speed_m_s": 1.2}], replace=True)
    assert cat.group_keys == ("everyone",) and cat.service_keys == ("water",)
    assert cat.reach_m(cat.services[0], cat.age_groups[0]) == 400  # faster than the reference: the radius
    with pytest.raises(CatalogueError, match="age group"):
        build_catalogue([], [], replace=True)


def test_new_service_needs_every_field() -> None:
    with pytest.raises(CatalogueError, match="tea_house"):
        build_catalogue([{"key": "tea_house", "radius_m": 300}])
    with pytest.raises(CatalogueError, match="radius_m"):
        build_catalogue([{"key": "tea_house", "name_zh": "茶馆", "name_en": "Tea house", "floor_area_m2": 100,
                          "serves": ["seniors"]}])


def test_unknown_age_group_in_serves() -> None:
    with pytest.raises(CatalogueError, match="students"):
        build_catalogue([{"key": "canteen", "serves": ["students"]}])


def test_unknown_service_in_play() -> None:
    with pytest.raises(CatalogueError, match="karaoke"):
        build_catalogue(services=["canteen", "karaoke"])
