"""Walking limits mean what the standard means: reaches along a straight street, computed by hand.

One building at the start of a straight, flat street; idle sites at known distances along it.
A service's radius is the reach of a walker at the reference speed (1.0 m/s): an age band
reaches ``radius × min(1, speed / 1.0)``, so no band reaches further than the standard and the
slower ones reach less. A limit in minutes (``walk_limit_min``) is ``minutes × 60 × speed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from siting.data.scenario import load_scenario
from siting.pipeline import prepare

SITE_AT = (180.0, 200.0, 230.0, 250.0, 260.0, 280.0, 300.0, 310.0)
BANDS = {"infants": 1.0, "preschool": 0.9, "school_age": 1.2, "working_age": 1.25, "seniors": 1.0,
         "oldest_old": 0.8}


def _street(folder: Path, **scenario: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    x0, y0 = 620_000.0, 3_270_000.0  # UTM 48N metres near Chongqing
    xs = np.arange(0.0, 1001.0, 10.0)
    pd.DataFrame({"id": [f"N{i}" for i in range(xs.size)], "x": x0 + xs, "y": y0, "elevation_m": 250.0}).to_csv(
        folder / "nodes.csv", index=False)
    pd.DataFrame({"u": [f"N{i}" for i in range(xs.size - 1)], "v": [f"N{i + 1}" for i in range(xs.size - 1)],
                  "highway": "footway"}).to_csv(folder / "edges.csv", index=False)
    pd.DataFrame({"id": ["B0"], "x": [x0], "y": [y0], **{b: [10] for b in BANDS}}).to_csv(
        folder / "demand.csv", index=False)
    pd.DataFrame({"id": [f"S{d:.0f}" for d in SITE_AT], "x": [x0 + d for d in SITE_AT], "y": y0,
                  "floor_area_m2": 1000.0, "fixed_cost": 1_000_000.0, "cost_per_m2": 0.0, "allowed": ""}).to_csv(
        folder / "sites.csv", index=False)
    raw = {"name": "street", "budget": 1e7, "services": ["health_station", "canteen"],
           "data": {"demand": "demand.csv", "sites": "sites.csv", "crs": "EPSG:32648",
                    "network": {"nodes": "nodes.csv", "edges": "edges.csv"}},
           "walking": {"mode": "network", "slope": False, "snap_limit_m": 50}, **scenario}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _reached(prepared, service: str) -> dict[str, list[float]]:
    cov, cat = prepared.coverage, prepared.catalogue
    out = {}
    for p, (s, g) in enumerate(cov.pairs):
        if cat.services[s].key == service:
            out[cat.age_groups[g].key] = [SITE_AT[j] for j in cov.reach[p][0].indices]
    return out


def test_radius_rule_by_hand(tmp_path: Path) -> None:
    prepared = prepare(load_scenario(_street(tmp_path)))
    # the health station: radius 300 m, every band; reach = 300 × min(1, speed / 1.0)
    hand = {b: [d for d in SITE_AT if d <= 300.0 * min(1.0, v / 1.0) + 1e-6] for b, v in BANDS.items()}
    assert hand["preschool"] == [180.0, 200.0, 230.0, 250.0, 260.0]  # 270 m
    assert hand["oldest_old"] == [180.0, 200.0, 230.0]  # 240 m
    assert hand["working_age"] == [180.0, 200.0, 230.0, 250.0, 260.0, 280.0, 300.0]  # 300 m, not 375 m
    assert _reached(prepared, "health_station") == hand
    limits = {prepared.catalogue.age_groups[g].key: lim
              for (s, g), lim in zip(prepared.coverage.pairs, prepared.coverage.limit_m, strict=True)
              if prepared.catalogue.services[s].key == "health_station"}
    assert limits == pytest.approx({"infants": 300.0, "preschool": 270.0, "school_age": 300.0,
                                    "working_age": 300.0, "seniors": 300.0, "oldest_old": 240.0})


def test_limits_in_minutes_stay_available(tmp_path: Path) -> None:
    path = _street(tmp_path, catalogue={"services": [{"key": "canteen", "walk_limit_min": 4}]})
    prepared = prepare(load_scenario(path))
    # 4 minutes at each band's own speed: working age 300 m, seniors 240 m, oldest old 192 m
    hand = {b: [d for d in SITE_AT if d <= 4 * 60 * BANDS[b] + 1e-6] for b in ("working_age", "seniors", "oldest_old")}
    assert _reached(prepared, "canteen") == hand
    assert hand["working_age"][-1] == 300.0 and hand["oldest_old"] == [180.0]


def test_a_reference_speed_of_ones_own(tmp_path: Path) -> None:
    path = _street(tmp_path, catalogue={"reference_speed_m_s": 1.25})
    prepared = prepare(load_scenario(path))
    # at 1.25 m/s for the radius, the seniors (1.0 m/s) reach 300 × 0.8 = 240 m
    assert _reached(prepared, "health_station")["seniors"] == [180.0, 200.0, 230.0]
