"""The service catalogue and age groups, and scenario overrides."""

from __future__ import annotations

import pytest

from siting.data.catalogue import build_catalogue, default_catalogue
from siting.errors import CatalogueError


def test_default_catalogue_is_complete() -> None:
    cat = default_catalogue()
    assert cat.group_keys == ("children", "working", "elderly")
    speeds = {g.key: g.speed_m_s for g in cat.age_groups}
    assert speeds == {"children": 1.0, "working": 1.25, "elderly": 0.9}
    shares = sum(g.census_share or 0 for g in cat.age_groups)
    assert shares == pytest.approx(1.0, abs=1e-9)
    for key in ("elderly_day_care", "health_station", "kindergarten", "childcare", "canteen", "culture_station",
                "study_room", "sports_space", "night_school", "coworking", "service_station"):
        s = cat.service(key)
        assert s.name_zh and s.name_en and s.source
        assert s.walk_limit_min in (5, 10, 15)
    assert cat.service("elderly_day_care").floor_area_m2 == 350
    assert cat.service("elderly_day_care").serves == ("elderly",)


def test_override_and_new_service() -> None:
    cat = build_catalogue(
        [{"key": "canteen", "walk_limit_min": 5},
         {"key": "tea_house", "name_zh": "茶馆", "name_en": "Tea house", "walk_limit_min": 10,
          "floor_area_m2": 100, "serves": ["elderly"]}],
        services=["canteen", "tea_house"])
    assert cat.service_keys == ("canteen", "tea_house")
    assert cat.service("canteen").walk_limit_min == 5
    assert cat.service("canteen").floor_area_m2 == default_catalogue().service("canteen").floor_area_m2


def test_new_service_needs_every_field() -> None:
    with pytest.raises(CatalogueError, match="tea_house"):
        build_catalogue([{"key": "tea_house", "walk_limit_min": 10}])


def test_unknown_age_group_in_serves() -> None:
    with pytest.raises(CatalogueError, match="students"):
        build_catalogue([{"key": "canteen", "serves": ["students"]}])


def test_unknown_service_in_play() -> None:
    with pytest.raises(CatalogueError, match="karaoke"):
        build_catalogue(services=["canteen", "karaoke"])
