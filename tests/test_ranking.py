"""Ranked retrofit options: marginal values against re-solving by brute force, sole coverage by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from siting.coverage import Coverage
from siting.data.scenario import load_scenario
from siting.model.covering import weighted_new_coverage
from siting.pipeline import catalogue_for, run_scenario
from siting.studies.ranking import (
    RankingSettings,
    addition_gain,
    perturbed_population,
    rank_options,
    ranking_tasks,
    sole_coverage,
)
from siting.studies.resolve import solve_many


def all_plans(path: Path) -> dict[frozenset[tuple[str, str]], float]:
    """Every feasible plan of a tiny scenario and its weighted new coverage, from the CSVs alone."""
    sc = load_scenario(path)
    cat = catalogue_for(sc)  # the scenario's own catalogue (tests/legacy_catalogue.py)
    services = [cat.service(k) for k in sc.services]
    dem = pd.read_csv(sc.data.demand)
    sit = pd.read_csv(sc.data.sites)
    ex = pd.read_csv(sc.data.existing)
    d_xy = dem[["x", "y"]].to_numpy(float)

    def dist(xy: np.ndarray) -> np.ndarray:
        return np.hypot(d_xy[:, None, 0] - xy[None, :, 0], d_xy[:, None, 1] - xy[None, :, 1]) * sc.walking.detour

    site_d = dist(sit[["x", "y"]].to_numpy(float))
    options = [(j, s) for j, row in sit.iterrows() for s in services
               if s.key in str(row["allowed"]).split(";") and s.floor_area_m2 <= row["floor_area_m2"]]
    gw = {g.key: sc.weights.age_groups.get(g.key, 1.0) for g in cat.age_groups}
    plans = {}
    for r in range(len(options) + 1):
        for combo in itertools.combinations(options, r):
            used = {j for j, _ in combo}
            cost = sum(sit.loc[j, "retrofit_cost"] for j in used) + sum(s.fitout_cost for _, s in combo)
            area = {j: sum(s.floor_area_m2 for k, s in combo if k == j) for j in used}
            if cost > sc.budget + 1e-6 or any(area[j] > sit.loc[j, "floor_area_m2"] for j in used):
                continue
            value = 0.0
            for s in services:
                cols = [j for j, t in combo if t.key == s.key]
                exy = ex.loc[ex["service"] == s.key, ["x", "y"]].to_numpy(float)
                for g in cat.age_groups:
                    if g.key not in s.serves:
                        continue
                    limit = cat.reach_m(s, g)
                    before = (dist(exy) <= limit).any(axis=1) if len(exy) else np.zeros(len(dem), bool)
                    after = before | (site_d[:, cols] <= limit).any(axis=1)
                    value += gw[g.key] * dem[g.key].to_numpy()[after & ~before].sum()
            plans[frozenset((str(sit.loc[j, "id"]), s.key) for j, s in combo)] = value
    return plans


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_marginal_values_equal_brute_force_resolves(write_tiny, seed: int) -> None:
    path = write_tiny(seed=seed, n_demand=16, n_sites=5, budget_share=0.5,
                      weights={"age_groups": {"elderly": 1.5}})
    run = run_scenario(load_scenario(path))
    plans = all_plans(path)
    best = max(plans.values())
    assert run.plan.objective == pytest.approx(best, abs=1e-6)
    settings = RankingSettings(samples=0)
    results = solve_many(ranking_tasks(run.prepared, run.plan, settings))
    ranking = rank_options(run.prepared, run.plan, results, settings)
    assert len(ranking.options) == len(run.plan.assignments) > 0
    for row in ranking.options.itertuples():
        option = (row.site_id, row.service)
        # re-solving by hand: the best plan that does not use this option
        without = max(v for p, v in plans.items() if option not in p)
        assert row.marginal_value == pytest.approx(best - without, abs=1e-4), option
        assert row.marginal_low <= row.marginal_value + 1e-6 <= row.marginal_high + 2e-6
    # ranked best first
    assert list(ranking.options["marginal_value"]) == sorted(ranking.options["marginal_value"], reverse=True)
    assert list(ranking.options["rank"]) == list(range(1, len(ranking.options) + 1))


def _toy_coverage() -> Coverage:
    # 4 demand points, 3 sites, 1 service serving 1 age group
    reach = sparse.csr_matrix(np.array([[1, 1, 0],
                                        [1, 0, 0],
                                        [0, 1, 1],
                                        [0, 0, 1]], dtype=bool))
    return Coverage(service_keys=("health_station",), group_keys=("elderly",), pairs=((0, 0),), reach=(reach,),
                    baseline=(np.array([False, False, False, True]),),
                    population=np.array([[10.0], [20.0], [30.0], [40.0]]), limit_m=(270.0,))


def test_sole_coverage_by_hand() -> None:
    cov = _toy_coverage()
    hosts = np.array([[True], [True], [False]])
    sole = sole_coverage(cov, hosts)
    # site 0 alone reaches point 1 (20); point 0 is reached by sites 0 and 1; site 1 alone reaches point 2 (30)
    assert sole[:, 0].tolist() == [20.0, 30.0, 0.0]
    # adding site 2 would newly cover nobody uncovered except... point 3 is baseline, point 2 already covered
    assert addition_gain(cov, hosts)[:, 0].tolist() == [0.0, 0.0, 0.0]
    gain = addition_gain(cov, np.array([[True], [False], [False]]))
    assert gain[:, 0].tolist() == [0.0, 30.0, 30.0]


def test_alternatives_add_what_they_claim(write_tiny) -> None:
    path = write_tiny(seed=3, n_demand=30, n_sites=7, budget_share=0.3)
    run = run_scenario(load_scenario(path))
    settings = RankingSettings(samples=2, alternatives=4)
    ranking = rank_options(run.prepared, run.plan, solve_many(ranking_tasks(run.prepared, run.plan, settings)),
                           settings)
    alt = ranking.alternatives
    assert 0 < len(alt) <= 4
    assert list(alt["added_value"]) == sorted(alt["added_value"], reverse=True)
    ids = list(run.prepared.district.sites.ids)
    keys = run.prepared.catalogue.service_keys
    for a in alt.itertuples():
        hosts = run.plan.hosts.copy()
        assert not hosts[ids.index(a.site_id), keys.index(a.service)]
        hosts[ids.index(a.site_id), keys.index(a.service)] = True
        gain = weighted_new_coverage(hosts, run.prepared.coverage, run.prepared.rules) - run.plan.objective
        assert a.added_value == pytest.approx(gain, abs=0.01)
    assert ranking.options["chosen_share_perturbed"].between(0, 1).all()
    assert "2 seeded samples" in ranking.robustness_note


def test_perturbation_is_seeded_and_bounded() -> None:
    pop = np.full((50, 3), 100.0)
    a = perturbed_population(pop, 0, perturbation=0.1, seed=7)
    assert np.array_equal(a, perturbed_population(pop, 0, perturbation=0.1, seed=7))
    assert not np.array_equal(a, perturbed_population(pop, 1, perturbation=0.1, seed=7))
    assert a.min() >= 90.0 and a.max() <= 110.0 and a.std() > 1.0
