"""Plans in phases against brute force: every assignment of conversions to phases, enumerated.

A tiny instance (three sites, two services, two age groups, three phases) is solved by the
phased optimizer and by enumeration: every site gets a phase in which it is converted (or
none), every service it may host a phase no earlier (or none); the schedule is checked here,
from the raw arrays, against every rule — floor area, sites per service, forced and pilot
sites, first phases, conversions per phase, and the money: what phases ``s..t`` spend together
within their budgets together, where ``s`` is the first phase whose money still carries into
``t``. Its value, coverage-years, is summed from the dense reach arrays. The optimizer's
optimum must equal the best value found, and its schedule must pass the same checks.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from siting.model.phases import PhaseRules, Schedule
from siting.model.rules import SiteData, define_phased_budget, phased_violation
from siting.optimizer.phases import coverage_problem, optimize_joint, optimize_myopic, standards_problem
from siting.solvers import SolveOptions, Status
from tiny_models import Tiny, make_tiny

EXACT = SolveOptions(mip_gap=0.0, time_limit_s=60)


def random_instance(seed: int, m: int = 3, n: int = 7) -> Tiny:
    """Three sites, two services, two age groups; a budget that buys some but not all."""
    rng = np.random.default_rng(seed)
    S, G = 2, 2
    pairs = [(0, 0), (0, 1), (1, 1)]
    population = rng.integers(1, 40, (n, G)).astype(float)
    reach = [rng.random((n, m)) < 0.5 for _ in pairs]
    base = [rng.random(n) < 0.15 for _ in pairs]
    allowed = rng.random((m, S)) < 0.85
    allowed[~allowed.any(axis=1), 0] = True
    return make_tiny(pairs, population, reach, base, floor_area=rng.choice([100.0, 200.0, 300.0], m),
                     retrofit_cost=rng.integers(2, 7, m) * 10.0, allowed=allowed,
                     service_area=np.array([80.0, 150.0]), service_fitout=rng.integers(1, 4, S) * 5.0,
                     budget=1e9, group_weight=rng.choice([1.0, 2.0], G), service_weight=rng.choice([1.0, 3.0], S))


def random_phases(seed: int, m: int, T: int = 3) -> PhaseRules:
    rng = np.random.default_rng(1000 + seed)
    budget = rng.integers(2, 8, T) * 10.0
    first = np.where(rng.random(m) < 0.3, rng.integers(0, T, m), 0).astype(np.int64)
    pilot = (rng.random(m) < 0.25) & (first == 0)
    max_conv = np.where(rng.random(T) < 0.3, rng.integers(1, 3, T), -1).astype(np.int64)
    min_conv = np.where((rng.random(T) < 0.2) & (max_conv != 0), 1, 0).astype(np.int64)
    return PhaseRules(tuple(f"p{t}" for t in range(T)), budget, rng.random(T) < 0.6,
                      rng.choice([1.0, 2.0, 0.5], T), min_conv, max_conv, first, pilot)


def new_coverage(t: Tiny, hosts: np.ndarray) -> float:
    """Weighted residents newly covered, from the dense arrays."""
    total = 0.0
    for (s, g), reach, base in zip(t.coverage.pairs, t.reach, t.base, strict=True):
        w = t.rules.service_weight[s] * t.rules.group_weight[g]
        new = ~base & reach[:, hosts[:, s]].any(axis=1)
        total += w * float(t.coverage.population[new, g].sum())
    return total


def site_options(t: Tiny, j: int, T: int) -> list[tuple[int, tuple[int, ...]]]:
    """Every (site phase, phase of each service) for one site: the site first, its services no earlier."""
    services = np.flatnonzero(t.sites.allowed[j] & (t.rules.service_area <= t.sites.floor_area[j]))
    out: list[tuple[int, tuple[int, ...]]] = [(-1, tuple(-1 for _ in services))]
    for p in range(T):
        for combo in itertools.product([-1, *range(p, T)], repeat=services.size):
            out.append((p, combo))
    return out


def feasible(t: Tiny, ph: PhaseRules, site_phase: np.ndarray, pair_phase: np.ndarray) -> bool:
    """Every rule, checked from scratch on a schedule."""
    T = ph.n_phases
    final = pair_phase >= 0
    if np.any(final & ~t.sites.allowed) or np.any((site_phase >= 0) & t.rules.force_out):
        return False
    if np.any(t.rules.force_in & (site_phase < 0)) or np.any(ph.pilot & (site_phase != 0)):
        return False
    if np.any((site_phase >= 0) & (site_phase < ph.first_phase)):
        return False
    if np.any(final.astype(float) @ t.rules.service_area > t.sites.floor_area + 1e-9):
        return False
    count = final.sum(axis=0)
    if np.any(count < t.rules.min_sites) or np.any((t.rules.max_sites >= 0) & (count > t.rules.max_sites)):
        return False
    spend = np.zeros(T)
    opened = np.zeros(T, dtype=int)
    for j in range(site_phase.size):
        if site_phase[j] >= 0:
            spend[site_phase[j]] += t.sites.retrofit_cost[j]
        for s in range(pair_phase.shape[1]):
            if pair_phase[j, s] >= 0:
                spend[pair_phase[j, s]] += t.rules.service_fitout[s]
                opened[pair_phase[j, s]] += 1
    for p in range(T):
        if opened[p] < ph.min_conversions[p] or (ph.max_conversions[p] >= 0 and opened[p] > ph.max_conversions[p]):
            return False
    # money: a chain of phases carrying their money forward shares it
    for last in range(T):
        first = last
        while first > 0 and ph.carry[first - 1]:
            first -= 1
        if spend[first:last + 1].sum() > ph.budget[first:last + 1].sum() + 1e-9:
            return False
    return True


def schedule_value(t: Tiny, ph: PhaseRules, pair_phase: np.ndarray) -> float:
    """Coverage-years: each phase's new coverage times its weight."""
    return sum(float(ph.weight[p]) * new_coverage(t, (pair_phase >= 0) & (pair_phase <= p)) for p in range(ph.n_phases))


def brute_force(t: Tiny, ph: PhaseRules) -> float:
    """The best coverage-years of every feasible schedule (``-inf`` when none is)."""
    m, S = t.sites.allowed.shape
    per_site = [site_options(t, j, ph.n_phases) for j in range(m)]
    best = -np.inf
    for combo in itertools.product(*per_site):
        site_phase = np.array([c[0] for c in combo])
        pair_phase = np.full((m, S), -1)
        for j, (_p, phases) in enumerate(combo):
            services = np.flatnonzero(t.sites.allowed[j] & (t.rules.service_area <= t.sites.floor_area[j]))
            pair_phase[j, services] = phases
        if feasible(t, ph, site_phase, pair_phase):
            best = max(best, schedule_value(t, ph, pair_phase))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_joint_plan_is_the_brute_force_optimum(seed: int) -> None:
    t = random_instance(seed)
    ph = random_phases(seed, t.sites.floor_area.size)
    truth = brute_force(t, ph)
    problem = coverage_problem(t.coverage, t.sites, t.rules, ph, min_conversions=bool(ph.min_conversions.any()))
    joint = optimize_joint(problem, ph, options=EXACT)
    if not np.isfinite(truth):
        assert joint.result.status is Status.INFEASIBLE
        return
    assert joint.result.status is Status.OPTIMAL
    found = schedule_value(t, ph, joint.schedule.pair_phase)
    assert found == pytest.approx(truth, abs=1e-6)
    assert joint.result.objective == pytest.approx(truth, abs=1e-6)
    assert feasible(t, ph, joint.schedule.site_phase, joint.schedule.pair_phase)
    assert phased_violation(joint.schedule.site_phase, joint.schedule.pair_phase, t.sites, t.rules, ph.budget,
                            ph.carry) == ""


def test_the_instances_exercise_carry_over_and_pilots() -> None:
    """Carried money and pilots decide some of the optima above: without them the optimum changes.

    (The optimizer stands in for the brute force here: the test above shows they agree.)
    """
    def best(t: Tiny, ph: PhaseRules) -> float:
        r = optimize_joint(coverage_problem(t.coverage, t.sites, t.rules, ph, min_conversions=True), ph,
                           options=EXACT).result
        return r.objective if r.status is Status.OPTIMAL else -np.inf

    changed_by_carry = changed_by_pilots = 0
    for seed in range(8):
        t = random_instance(seed)
        ph = random_phases(seed, t.sites.floor_area.size)
        truth = best(t, ph)
        if ph.carry[:-1].any() and best(t, dataclasses.replace(ph, carry=np.zeros_like(ph.carry))) != truth:
            changed_by_carry += 1
        if ph.pilot.any() and best(t, dataclasses.replace(ph, pilot=np.zeros_like(ph.pilot))) != truth:
            changed_by_pilots += 1
    assert changed_by_carry >= 2 and changed_by_pilots >= 1


def test_money_left_unspent_without_carry_over_can_convert_a_site_early() -> None:
    """Phase 1 cannot carry its money; converting the site then (its services later) is the only way to afford it."""
    t = make_tiny([(0, 0)], np.array([[10.0]]), [np.array([[True]])], floor_area=np.array([100.0]),
                  retrofit_cost=np.array([50.0]), allowed=np.array([[True]]), service_area=np.array([80.0]),
                  service_fitout=np.array([20.0]), budget=1e9)
    ph = PhaseRules(("a", "b"), np.array([50.0, 20.0]), np.array([False, False]), np.ones(2),
                    np.zeros(2, dtype=np.int64), np.full(2, -1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                    np.zeros(1, dtype=bool))
    joint = optimize_joint(coverage_problem(t.coverage, t.sites, t.rules, ph), ph, options=EXACT)
    assert joint.schedule.site_phase.tolist() == [0] and joint.schedule.pair_phase.tolist() == [[1]]
    assert joint.result.objective == pytest.approx(10.0) == brute_force(t, ph)


def test_phased_budget_rows_by_hand() -> None:
    """Two sites, one column each; phases (10, 20, 30), the first two carry over, the third does not."""
    rows = define_phased_budget(np.array([1.0, 2.0]), np.array([5.0, 7.0]), np.array([10.0, 20.0, 30.0]),
                                np.array([True, False, True]))
    x, y = rows.parts["x"].toarray(), rows.parts["y"].toarray()
    assert rows.upper.tolist() == [10.0, 30.0, 30.0]
    # phases 1 and 2 share their money: rows of phase 1 and 2 count from the start
    assert x[0].tolist() == [1, 2, 0, 0, 0, 0] and x[1].tolist() == [0, 0, 1, 2, 0, 0]
    # phase 3 gets no money from phase 2: it pays what is done by 3 minus what was done by 2
    assert x[2].tolist() == [0, 0, -1, -2, 1, 2] and y[2].tolist() == [0, 0, -5, -7, 5, 7]


def test_joint_plan_is_never_below_the_myopic_one() -> None:
    """Random instances larger than the brute force's; both values summed from the dense arrays."""
    gains = []
    for seed in range(24):
        rng = np.random.default_rng(seed)
        t = random_instance(seed, m=int(rng.integers(4, 8)), n=int(rng.integers(8, 18)))
        ph = random_phases(seed, t.sites.floor_area.size)
        ph = dataclasses.replace(ph, min_conversions=np.zeros_like(ph.min_conversions),
                                 pilot=ph.pilot & (rng.random(ph.pilot.size) < 0.5))
        problem = coverage_problem(t.coverage, t.sites, t.rules, ph)
        myopic = optimize_myopic(problem, ph, options=EXACT)
        joint = optimize_joint(problem, ph, options=EXACT)  # no warm start from the myopic plan
        if joint.result.status is Status.INFEASIBLE:  # a pilot dearer than the first phase's money, say
            assert not myopic.has_plan
            continue
        assert joint.result.status is Status.OPTIMAL and not joint.notes
        if not myopic.has_plan:  # the last phase's requirements out of the myopic planner's reach
            continue
        mine = schedule_value(t, ph, myopic.schedule.pair_phase)
        assert feasible(t, ph, myopic.schedule.site_phase, myopic.schedule.pair_phase)
        assert myopic.result.objective == pytest.approx(mine, abs=1e-6)
        gains.append(schedule_value(t, ph, joint.schedule.pair_phase) - mine)
    assert len(gains) >= 20
    assert min(gains) >= -1e-6
    assert sum(g > 1e-6 for g in gains) >= 3  # the comparison is not idle: foresight pays on some


def check_myopic(t: Tiny, ph: PhaseRules, schedule: Schedule) -> None:
    """By brute force, phase by phase: each phase's new coverage is the best its money buys, given the one before."""
    m, S = t.sites.allowed.shape
    per_site = [site_options(t, j, ph.n_phases) for j in range(m)]
    done = Schedule(np.full(m, -1), np.full((m, S), -1))
    for p in range(ph.n_phases):
        best = -np.inf
        for combo in itertools.product(*per_site):
            site_phase = np.array([c[0] for c in combo])
            pair_phase = np.full((m, S), -1)
            for j, (_q, phases) in enumerate(combo):
                services = np.flatnonzero(t.sites.allowed[j] & (t.rules.service_area <= t.sites.floor_area[j]))
                pair_phase[j, services] = phases
            # the same as the myopic plan before p, nothing after p
            if np.any(site_phase > p) or np.any(pair_phase > p):
                continue
            if not (np.array_equal(np.where(site_phase < p, site_phase, -1), done.site_phase)
                    and np.array_equal(np.where(pair_phase < p, pair_phase, -1), done.pair_phase)):
                continue
            if feasible(t, ph, site_phase, pair_phase):
                best = max(best, new_coverage(t, pair_phase >= 0))
        assert new_coverage(t, schedule.hosts(p)) == pytest.approx(best, abs=1e-6)
        done = Schedule(np.where(schedule.site_phase <= p, schedule.site_phase, -1),
                        np.where(schedule.pair_phase <= p, schedule.pair_phase, -1))


def plain_phases(seed: int) -> PhaseRules:
    """Random phases without pilots, first phases or conversions per phase (what every myopic planner takes)."""
    return dataclasses.replace(random_phases(seed, 3), pilot=np.zeros(3, dtype=bool),
                               first_phase=np.zeros(3, dtype=np.int64), min_conversions=np.zeros(3, dtype=np.int64),
                               max_conversions=np.full(3, -1, dtype=np.int64))


@pytest.mark.parametrize("seed", [5, 6])
def test_myopic_plan_optimises_each_phase_given_the_one_before(seed: int) -> None:
    t, ph = random_instance(seed, m=3), plain_phases(seed)
    myopic = optimize_myopic(coverage_problem(t.coverage, t.sites, t.rules, ph), ph, options=EXACT)
    check_myopic(t, ph, myopic.schedule)


@pytest.mark.parametrize("seed", [5, 6])
def test_myopic_plan_at_scale_over_what_is_left(seed: int) -> None:
    """The same planner as a plan of one moment over what is left (residents reached, sites converted)."""
    from siting.optimizer.phases_large import optimize_myopic_large

    t, ph = random_instance(seed, m=3), plain_phases(seed)
    myopic = optimize_myopic_large(t.coverage, t.sites, t.rules, ph, options=EXACT)
    assert feasible(t, ph, myopic.schedule.site_phase, myopic.schedule.pair_phase)
    check_myopic(t, ph, myopic.schedule)
    assert myopic.result.objective == pytest.approx(schedule_value(t, ph, myopic.schedule.pair_phase), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_relaxation_and_kernel_bracket_the_brute_force_optimum(seed: int) -> None:
    """The method for large districts: its bound is never below the optimum, its plan a feasible schedule below it."""
    from siting.optimizer.phases_large import optimize_joint_large

    t = random_instance(seed)
    ph = dataclasses.replace(random_phases(seed, 3), min_conversions=np.zeros(3, dtype=np.int64))
    truth = brute_force(t, ph)
    large = optimize_joint_large(t.coverage, t.sites, t.rules, ph, options=EXACT)
    if not np.isfinite(truth):
        assert not large.has_plan
        return
    assert large.has_plan
    assert feasible(t, ph, large.schedule.site_phase, large.schedule.pair_phase)
    value = schedule_value(t, ph, large.schedule.pair_phase)
    assert large.result.objective == pytest.approx(value, abs=1e-6)
    assert value <= truth + 1e-6 <= large.result.bound + 2e-6
    assert large.result.gap == pytest.approx((large.result.bound - value) / value if value else large.result.gap)


def test_standards_first_over_time_against_brute_force() -> None:
    """The default objective over two phases: each stage's value summed over the phases, lexicographically.

    Every pair of plans ``H1 ⊆ H2`` (what is open after phase 1, after phase 2) of the
    standards test's instances is enumerated, with every phase in which a site first used in
    phase 2 may be converted; stage values (gaps closed, basic and quality shares served within
    capacity, by max flow) come from :func:`test_standards.stage_values`.
    """
    for seed in (0, 3, 5):
        check_standards_over_time(seed)


def test_a_later_stage_over_time_with_nothing_to_gain_is_proven_by_one_feasibility_solve(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The joint plan's shortcut for a later stage that no plan keeping the earlier values can score
    in (one feasibility solve instead of branch and bound) gives the brute force's lexicographic
    optimum, on instances where it proves the stage's 0 and where it does not."""
    import siting.optimizer.phases as phases_module

    answers: list[str] = []
    original = phases_module.gain_question

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        answers.append("not asked" if out is None else out.status.value)
        return out

    monkeypatch.setattr(phases_module, "gain_question", spy)
    for seed in range(8, 20):
        check_standards_over_time(seed)
    assert "infeasible" in answers and any(a != "infeasible" for a in answers), answers


def check_standards_over_time(seed: int) -> None:
    """The joint standards-first plan of the standards test's instance ``seed`` against brute force."""
    from test_standards import all_plans, instance, stage_values

    cat, cov, sites, rules, communities = instance(seed)
    budgets = np.array([0.45, 0.55]) * rules.budget
    ph = PhaseRules(("a", "b"), budgets, np.array([seed % 2 == 0, True]), np.array([1.0, 2.0]),
                    np.zeros(2, dtype=np.int64), np.full(2, -1, dtype=np.int64),
                    np.zeros(sites.floor_area.size, dtype=np.int64), np.zeros(sites.floor_area.size, dtype=bool))
    plans = list(all_plans(cat, sites, rules))
    values = {h.tobytes(): np.array(stage_values(cov, cat, h, communities)) for h in plans}
    best = None
    for h2 in plans:
        for h1 in plans:
            if np.any(h1 & ~h2):
                continue
            pair_phase = np.where(h1, 0, np.where(h2, 1, -1))
            late = np.flatnonzero(h2.any(axis=1) & ~h1.any(axis=1))
            for early in itertools.product([0, 1], repeat=late.size):
                site_phase = np.where(h1.any(axis=1), 0, -1)
                site_phase[late] = early
                if phased_violation(site_phase, pair_phase, sites, rules, ph.budget, ph.carry):
                    continue
                v = tuple(np.round(values[h1.tobytes()] * 1.0 + values[h2.tobytes()] * 2.0, 9))
                best = v if best is None or v > best else best
                break
    problem = standards_problem(cov, cat, sites, rules, communities=communities)
    joint = optimize_joint(problem, ph, options=EXACT)
    assert joint.result.status is Status.OPTIMAL
    got = joint.totals()
    h1, h2 = joint.schedule.hosts(0), joint.schedule.hosts(1)
    mine = values[h1.tobytes()] * 1.0 + values[h2.tobytes()] * 2.0
    assert best is not None and tuple(mine) == pytest.approx(best, abs=1e-6)
    for name, i in (("gaps", 0), ("basic", 1), ("quality", 2)):
        if name in got:
            assert got[name] == pytest.approx(best[i], abs=1e-6), (seed, name)


def test_the_joint_plan_of_the_phased_scenario_honours_a_short_time_limit() -> None:
    """``scenarios/phased.yaml`` (about 16 s to prove) with 6 s for the joint plan: it returns within
    a few seconds of the limit, with a plan that keeps every rule and each stage's figures."""
    import time
    from pathlib import Path

    from siting.data.scenario import load_scenario
    from siting.pipeline import prepare
    from siting.pipeline.phased import phased_problem

    prepared = prepare(load_scenario(Path(__file__).parents[1] / "scenarios" / "phased.yaml"))
    assert prepared.phases is not None
    problem = phased_problem(prepared, prepared.phases)
    t0 = time.perf_counter()
    joint = optimize_joint(problem, prepared.phases, options=SolveOptions(time_limit_s=6.0))
    elapsed = time.perf_counter() - t0
    assert elapsed < 6.0 + 3.0, elapsed
    assert joint.has_plan and joint.stages
    assert joint.result.status in (Status.TIME_LIMIT, Status.OPTIMAL)
    site_phase, pair_phase = joint.schedule.site_phase, joint.schedule.pair_phase
    assert not phased_violation(site_phase, pair_phase, SiteData.of(prepared.district.sites), prepared.rules,
                                prepared.phases.budget, prepared.phases.carry)
