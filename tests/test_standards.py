"""The standards-first objective against brute force: gaps, then basic services, then quality, with capacity.

Every plan of a tiny instance is enumerated (each site hosts any subset of its allowed services
that fits its floor area, within the budget). For each plan the three stage values are computed
independently of the model: the gaps it closes (community × basic service brought within reach,
a service the whole district lacks first), the basic services' shares of their target
populations newly served — for a capacity-limited service the residents served are a maximum
flow (networkx) from the residents within reach to the open facilities, each up to its capacity —
and the same for the quality services. The lexicographic best of the brute force must equal
the optimizer's stage values.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from scipy import sparse

import siting.optimizer.generic as generic
from siting.coverage import Coverage
from siting.data.catalogue import build_catalogue
from siting.model.rules import PlanningRules, SiteData, plan_violation
from siting.optimizer.standards import optimize_standards
from siting.solvers import SolveOptions

GROUPS = [{"key": "young", "name_zh": "幼", "name_en": "young", "speed_m_s": 1.0},
          {"key": "old", "name_zh": "老", "name_en": "old", "speed_m_s": 1.0}]
SERVICES = [  # two basic services (one capacity-limited), one quality service
    {"key": "care", "name_zh": "照料", "name_en": "care", "radius_m": 300, "category": "basic",
     "serves": ["old"], "floor_area_m2": 100, "m2_per_1000_target": 1000 / 0.4},  # 40 residents per facility
    {"key": "clinic", "name_zh": "卫生", "name_en": "clinic", "radius_m": 300, "category": "basic",
     "serves": ["young", "old"], "floor_area_m2": 80},
    {"key": "study", "name_zh": "书房", "name_en": "study", "radius_m": 300, "category": "quality",
     "serves": ["young"], "floor_area_m2": 60},
]


def instance(seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    cat = build_catalogue(SERVICES, GROUPS, replace=True)
    n, m, S = 9, 4, 3
    pop = rng.integers(0, 30, (n, 2)).astype(float)
    communities = rng.integers(0, 2, n)
    reach = [sparse.csr_matrix(rng.random((n, m)) < 0.35) for _ in range(S)]
    existing = rng.random(n) < 0.2  # an existing clinic reaches these points
    pairs = tuple(cat.served_pairs())
    cov = Coverage(service_keys=cat.service_keys, group_keys=cat.group_keys, pairs=pairs,
                   reach=tuple(reach[s] for s, _g in pairs),
                   baseline=tuple(existing.copy() if cat.services[s].key == "clinic" else np.zeros(n, dtype=bool)
                                  for s, _g in pairs),
                   population=pop, limit_m=tuple(300.0 for _ in pairs))
    area = rng.choice([100.0, 160.0, 200.0], m)
    allowed = rng.random((m, S)) < 0.8
    sites = SiteData(area, rng.integers(2, 6, m) * 10.0, allowed, rng.choice([0.0, 0.05], m))
    fit = np.array([s.fitout_cost for s in cat.services])
    rules = PlanningRules(budget=float(rng.integers(40, 90)), service_area=np.array([s.floor_area_m2 for s in
                                                                                    cat.services]),
                          service_fitout=fit, service_weight=np.ones(S), group_weight=np.ones(2),
                          min_sites=np.zeros(S, dtype=np.int64), max_sites=np.full(S, -1, dtype=np.int64),
                          force_in=np.zeros(m, dtype=bool), force_out=np.zeros(m, dtype=bool))
    return cat, cov, sites, rules, communities


def served(cov: Coverage, cat, hosts: np.ndarray, s: int) -> float:
    """Residents of service ``s`` newly served by the plan: within reach, within capacity (max flow)."""
    cap = cat.services[s].capacity
    graph = nx.DiGraph()
    total_within = 0.0
    for p, (ps, g) in enumerate(cov.pairs):
        if ps != s:
            continue
        for i in np.flatnonzero(~cov.baseline[p] & (cov.population[:, g] > 0)):
            reachable = [j for j in np.flatnonzero(hosts[:, s]) if cov.reach[p][i, j]]
            if not reachable:
                continue
            total_within += cov.population[i, g]
            graph.add_edge("src", ("r", i, g), capacity=float(cov.population[i, g]))
            for j in reachable:
                graph.add_edge(("r", i, g), ("f", int(j)), capacity=float("inf"))
    if not np.isfinite(cap):
        return total_within
    for j in np.flatnonzero(hosts[:, s]):
        graph.add_edge(("f", int(j)), "sink", capacity=float(cap))
    if "src" not in graph or "sink" not in graph:
        return 0.0
    return float(nx.maximum_flow_value(graph, "src", "sink"))


def stage_values(cov: Coverage, cat, hosts: np.ndarray, communities: np.ndarray) -> tuple[float, ...]:
    target = np.zeros(len(cat.services))
    for s, g in cov.pairs:
        target[s] += cov.population[:, g].sum()
    basic = [s for s, svc in enumerate(cat.services) if svc.category == "basic"]
    quality = [s for s, svc in enumerate(cat.services) if svc.category == "quality"]
    gaps, closed, district_missing, district_closed = 0, 0, set(), set()
    for s in basic:
        pairs = [p for p, (ps, _g) in enumerate(cov.pairs) if ps == s]
        absent = not any(cov.baseline[p][cov.population[:, cov.pairs[p][1]] > 0].any() for p in pairs)
        for k in np.unique(communities):
            people = [(p, i) for p in pairs for i in np.flatnonzero((communities == k)
                                                                    & (cov.population[:, cov.pairs[p][1]] > 0))]
            if not people or any(cov.baseline[p][i] for p, i in people):
                continue
            if not any(cov.reach[p][i].nnz for p, i in people):
                continue
            gaps += 1
            if absent:
                district_missing.add(s)
            if any(hosts[j, s] and cov.reach[p][i, j] for p, i in people for j in range(hosts.shape[0])):
                closed += 1
                if absent:
                    district_closed.add(s)
    gap_value = (gaps + 1) * len(district_closed) + closed

    def share(services: list[int]) -> float:
        return sum(served(cov, cat, hosts, s) / target[s] for s in services if target[s] > 0)

    return float(gap_value), share(basic), share(quality)


def all_plans(cat, sites: SiteData, rules: PlanningRules):
    m, S = sites.allowed.shape
    options = []
    for j in range(m):
        subsets = []
        for bits in itertools.product([False, True], repeat=S):
            b = np.array(bits)
            if (b & ~sites.allowed[j]).any() or b @ rules.service_area > sites.floor_area[j]:
                continue
            subsets.append(b)
        options.append(subsets)
    for combo in itertools.product(*options):
        hosts = np.array(combo)
        if not plan_violation(hosts, sites, rules):
            yield hosts


@pytest.mark.parametrize("large", [False, True], ids=["whole", "large-path"])
@pytest.mark.parametrize("seed", range(8))
def test_lexicographic_optimum_equals_brute_force(seed: int, large: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stage solved whole, or (``large-path``) by the path of large models: cutting planes, the
    master MIP, kernel and neighbourhood search."""
    if large:
        monkeypatch.setattr(generic, "DIRECT_MAX_NONZEROS", 0)
    cat, cov, sites, rules, communities = instance(seed)
    best: tuple[float, ...] | None = None
    for hosts in all_plans(cat, sites, rules):
        v = stage_values(cov, cat, hosts, communities)
        if best is None or tuple(round(x, 9) for x in v) > tuple(round(x, 9) for x in best):
            best = v
    assert best is not None
    sol = optimize_standards(cov, cat, sites, rules, communities=communities,  # large: time for the master MIP
                             options=SolveOptions(time_limit_s=120 if large else 30, mip_gap=0.0))
    assert not plan_violation(sol.hosts, sites, rules)
    got = {s.name: s.objective for s in sol.stages}
    mine = stage_values(cov, cat, sol.hosts, communities)
    assert mine == pytest.approx(best, abs=1e-6)  # the plan itself is lexicographically optimal
    if "gaps" in got:
        assert got["gaps"] == pytest.approx(best[0], abs=1e-6)
    assert got["basic"] == pytest.approx(best[1], abs=1e-6)
    if "quality" in got:
        assert got["quality"] == pytest.approx(best[2], abs=1e-6)
    assert sol.result.status.value == "optimal"


def test_capacity_counts_only_the_places() -> None:
    """One care facility of 40 places, 100 old residents in reach: 40 served, not 100."""
    cat = build_catalogue(SERVICES[:1], GROUPS, replace=True)
    pop = np.array([[0.0, 60.0], [0.0, 40.0]])
    reach = sparse.csr_matrix(np.ones((2, 1), dtype=bool))
    cov = Coverage(service_keys=cat.service_keys, group_keys=cat.group_keys, pairs=((0, 1),), reach=(reach,),
                   baseline=(np.zeros(2, dtype=bool),), population=pop, limit_m=(300.0,))
    sites = SiteData(np.array([100.0]), np.array([1.0]), np.ones((1, 1), dtype=bool))
    rules = PlanningRules(budget=10.0, service_area=np.array([100.0]), service_fitout=np.zeros(1),
                          service_weight=np.ones(1), group_weight=np.ones(2), min_sites=np.zeros(1, dtype=np.int64),
                          max_sites=np.full(1, -1, dtype=np.int64), force_in=np.zeros(1, dtype=bool),
                          force_out=np.zeros(1, dtype=bool))
    sol = optimize_standards(cov, cat, sites, rules)
    assert sol.hosts[0, 0]
    assert sol.served[0] == pytest.approx(40.0)
    assert {s.name: s.objective for s in sol.stages}["basic"] == pytest.approx(40.0 / 100.0)
    uncapped = optimize_standards(cov, cat, sites, rules, capacity=False)
    assert uncapped.served[0] == pytest.approx(100.0)


def test_a_stage_with_nothing_to_gain_is_proven_by_one_feasibility_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quality stage's shortcut (no plan keeping the earlier values can open a quality service)
    gives the brute force's lexicographic optimum, on instances where it fires and where it does not."""
    import siting.optimizer.stages as stages

    fired: list[bool] = []
    original = stages.nothing_to_gain

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        fired.append(isinstance(out, stages.StageOutcome))
        return out

    monkeypatch.setattr(stages, "nothing_to_gain", spy)
    for seed in range(8, 20):
        cat, cov, sites, rules, communities = instance(seed)
        best = max((stage_values(cov, cat, h, communities) for h in all_plans(cat, sites, rules)),
                   key=lambda v: tuple(round(x, 9) for x in v))
        sol = optimize_standards(cov, cat, sites, rules, communities=communities,
                                 options=SolveOptions(time_limit_s=30, mip_gap=0.0))
        assert stage_values(cov, cat, sol.hosts, communities) == pytest.approx(best, abs=1e-6), seed
        got = {s.name: s.objective for s in sol.stages}
        assert got.get("quality", 0.0) == pytest.approx(best[2], abs=1e-6), seed
    assert any(fired) and not all(fired), fired  # both ways were taken


def test_a_large_later_stage_starts_from_the_previous_plan_completed_greedily(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the path of large models a later stage also starts from the previous stage's plan completed
    by the greedy with the budget and floor area it leaves: that start holds every pair of the
    previous plan, keeps the rules, and never lowers an earlier stage's value (brute-force values)."""
    import siting.optimizer.stages as stages

    monkeypatch.setattr(generic, "DIRECT_MAX_NONZEROS", 0)
    completions: list[tuple[np.ndarray, np.ndarray]] = []
    original = stages.greedy_plan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        if kwargs.get("start") is not None and out is not None:
            completions.append((np.asarray(kwargs["start"], dtype=bool), out))
        return out

    monkeypatch.setattr(stages, "greedy_plan", spy)
    grew = 0
    for seed in range(8):
        cat, cov, sites, rules, communities = instance(seed)
        completions.clear()
        sol = optimize_standards(cov, cat, sites, rules, communities=communities,
                                 options=SolveOptions(time_limit_s=30, mip_gap=0.0))
        assert sol.stages, seed
        for start, more in completions:
            assert not (start & ~more).any(), seed  # every pair of the previous plan is kept
            assert not plan_violation(more, sites, rules), seed
            before, after = stage_values(cov, cat, start, communities), stage_values(cov, cat, more, communities)
            assert after[0] >= before[0] - 1e-9 and after[1] >= before[1] - 1e-9, seed
            grew += int((more & ~start).any())
    assert grew > 0  # the completion added something on some instance
