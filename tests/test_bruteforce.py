"""End to end on tiny districts: the optimum equals brute-force enumeration of every plan."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from siting.data.scenario import load_scenario
from siting.pipeline import catalogue_for, run_scenario


def brute_force(scenario_path) -> tuple[float, float]:
    """Best weighted newly covered residents over every feasible plan, computed from scratch.

    Reads the CSVs itself and measures distances with numpy, independently of siting's stages.
    Returns (best objective, weighted baseline).
    """
    sc = load_scenario(scenario_path)
    cat = catalogue_for(sc)  # the scenario's own catalogue (tests/legacy_catalogue.py)
    services = [cat.service(k) for k in sc.services]
    groups = cat.age_groups
    dem = pd.read_csv(sc.data.demand)
    sit = pd.read_csv(sc.data.sites)
    ex = pd.read_csv(sc.data.existing) if sc.data.existing else pd.DataFrame(columns=["service", "x", "y"])
    d_xy = dem[["x", "y"]].to_numpy(float)
    dist = np.hypot(*(d_xy[:, None, :] - sit[["x", "y"]].to_numpy(float)[None, :, :]).transpose(2, 0, 1))
    dist = dist * sc.walking.detour
    gw = {g.key: sc.weights.age_groups.get(g.key, 1.0) for g in groups}
    options = []  # every (site, service) pair allowed and fitting
    for j, row in sit.iterrows():
        allowed = str(row["allowed"]).split(";")
        for s in services:
            if s.key in allowed and s.floor_area_m2 <= row["floor_area_m2"]:
                options.append((j, s))
    base = {}
    for s in services:
        exy = ex.loc[ex["service"] == s.key, ["x", "y"]].to_numpy(float)
        edist = (np.hypot(*(d_xy[:, None, :] - exy[None, :, :]).transpose(2, 0, 1)) * sc.walking.detour
                 if len(exy) else np.full((len(dem), 0), np.inf))
        for g in groups:
            if g.key in s.serves:
                base[s.key, g.key] = (edist <= cat.reach_m(s, g)).any(axis=1)
    base_val = sum(gw[g] * dem[g].to_numpy()[b].sum() for (s, g), b in base.items())
    best = 0.0
    for r in range(len(options) + 1):
        for combo in itertools.combinations(options, r):
            used = {j for j, _ in combo}
            area = {j: 0.0 for j in used}
            cost = sum(sit.loc[j, "retrofit_cost"] for j in used)
            for j, s in combo:
                area[j] += s.floor_area_m2
                cost += s.fitout_cost
            if cost > sc.budget + 1e-6 or any(area[j] > sit.loc[j, "floor_area_m2"] for j in used):
                continue
            val = 0.0
            for s in services:
                cols = [j for j, t in combo if t.key == s.key]
                for g in groups:
                    if g.key not in s.serves:
                        continue
                    cov = base[s.key, g.key].copy()
                    if cols:
                        cov |= (dist[:, cols] <= cat.reach_m(s, g)).any(axis=1)
                    val += gw[g.key] * dem[g.key].to_numpy()[cov].sum()
            best = max(best, val - base_val)
    return best, base_val


@pytest.mark.parametrize("seed", range(12))
def test_optimum_equals_brute_force(write_tiny, seed: int) -> None:
    path = write_tiny(seed=seed, n_demand=14, n_sites=4 + seed % 3,
                      weights={"age_groups": {"elderly": 1.0 + 0.5 * (seed % 3)}})
    expected, _ = brute_force(path)
    result = run_scenario(load_scenario(path))
    plan = result.plan
    assert plan.status.value == "optimal"
    assert plan.objective == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert plan.bound >= plan.objective - 1e-6
    assert plan.cost <= plan.budget + 1e-6
