"""Tiny siting instances built in memory, and brute-force enumeration of every plan."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.rules import PlanningRules, SiteData


@dataclass(frozen=True)
class Tiny:
    """A tiny instance: coverage, sites, rules, and the raw arrays the brute force reads."""

    coverage: Coverage
    sites: SiteData
    rules: PlanningRules
    reach: list[np.ndarray]  # per pair, dense boolean demand × site
    base: list[np.ndarray]


def make_tiny(coverage_pairs: list[tuple[int, int]], population: np.ndarray, reach: list[np.ndarray],
              base: list[np.ndarray] | None = None, *, floor_area: np.ndarray, retrofit_cost: np.ndarray,
              allowed: np.ndarray, service_area: np.ndarray, service_fitout: np.ndarray, budget: float,
              service_weight: np.ndarray | None = None, group_weight: np.ndarray | None = None,
              min_sites: np.ndarray | None = None, max_sites: np.ndarray | None = None,
              force_in: np.ndarray | None = None, force_out: np.ndarray | None = None) -> Tiny:
    """Assemble a tiny instance from dense arrays."""
    n, G = population.shape
    m, S = allowed.shape
    base = base if base is not None else [np.zeros(n, dtype=bool) for _ in coverage_pairs]
    cov = Coverage(
        service_keys=tuple(f"s{k}" for k in range(S)), group_keys=tuple(f"g{k}" for k in range(G)),
        pairs=tuple(coverage_pairs), reach=tuple(sparse.csr_matrix(r.astype(bool)) for r in reach),
        baseline=tuple(b.astype(bool) for b in base), population=population.astype(float),
        limit_m=tuple(300.0 for _ in coverage_pairs))
    rules = PlanningRules(
        budget=float(budget), service_area=service_area.astype(float), service_fitout=service_fitout.astype(float),
        service_weight=np.ones(S) if service_weight is None else service_weight,
        group_weight=np.ones(G) if group_weight is None else group_weight,
        min_sites=np.zeros(S, dtype=np.int64) if min_sites is None else min_sites,
        max_sites=np.full(S, -1, dtype=np.int64) if max_sites is None else max_sites,
        force_in=np.zeros(m, dtype=bool) if force_in is None else force_in,
        force_out=np.zeros(m, dtype=bool) if force_out is None else force_out)
    return Tiny(cov, SiteData(floor_area.astype(float), retrofit_cost.astype(float), allowed), rules,
                [r.astype(bool) for r in reach], [b.astype(bool) for b in base])


def random_tiny(seed: int) -> Tiny:
    """A random tiny instance: up to 4 sites, 2 services, 2 age groups, 8 demand points."""
    rng = np.random.default_rng(seed)
    n, m, S, G = int(rng.integers(2, 9)), int(rng.integers(1, 5)), int(rng.integers(1, 3)), 2
    pairs = [(s, g) for s in range(S) for g in range(G) if s == 0 or g == 1 or rng.random() < 0.5]
    population = rng.integers(0, 50, (n, G)).astype(float)
    reach = [rng.random((n, m)) < 0.45 for _ in pairs]
    base = [rng.random(n) < 0.2 for _ in pairs]
    allowed = rng.random((m, S)) < 0.8
    floor_area = rng.choice([100.0, 200.0, 300.0], m)
    service_area = rng.choice([80.0, 150.0], S)
    retrofit = rng.integers(1, 6, m) * 10.0
    fitout = rng.integers(1, 4, S) * 5.0
    budget = float(rng.integers(10, 60))
    min_sites = np.where(rng.random(S) < 0.15, 1, 0).astype(np.int64)
    max_sites = np.where(rng.random(S) < 0.3, rng.integers(1, 3, S), -1).astype(np.int64)
    return make_tiny(pairs, population, reach, base, floor_area=floor_area, retrofit_cost=retrofit,
                     allowed=allowed, service_area=service_area, service_fitout=fitout, budget=budget,
                     group_weight=rng.choice([1.0, 1.5, 2.0], G), service_weight=rng.choice([1.0, 3.0], S),
                     min_sites=min_sites, max_sites=max_sites,
                     force_in=(fin := rng.random(m) < 0.1), force_out=(rng.random(m) < 0.1) & ~fin)


def plans(t: Tiny, *, budget: bool = True) -> Iterator[tuple[np.ndarray, float]]:
    """Every feasible plan (hosts, cost), enumerated from scratch."""
    m, S = t.sites.allowed.shape
    options = [(j, s) for j in range(m) for s in range(S)
               if t.sites.allowed[j, s] and not t.rules.force_out[j]]
    for r in range(len(options) + 1):
        for combo in itertools.combinations(options, r):
            hosts = np.zeros((m, S), dtype=bool)
            for j, s in combo:
                hosts[j, s] = True
            used = hosts.any(axis=1) | t.rules.force_in
            if np.any(used & t.rules.force_out):
                continue
            area = hosts.astype(float) @ t.rules.service_area
            if np.any(area > t.sites.floor_area + 1e-9):
                continue
            cost = float(t.sites.retrofit_cost[used].sum() + hosts.sum(axis=0) @ t.rules.service_fitout)
            if budget and cost > t.rules.budget + 1e-9:
                continue
            count = hosts.sum(axis=0)
            if np.any(count < t.rules.min_sites) or np.any((t.rules.max_sites >= 0) & (count > t.rules.max_sites)):
                continue
            yield hosts, cost


def covered(t: Tiny, hosts: np.ndarray) -> np.ndarray:
    """Residents covered per pair (baseline included), from the dense arrays."""
    out = []
    for (s, g), reach, base in zip(t.coverage.pairs, t.reach, t.base, strict=True):
        cov = base | (reach[:, hosts[:, s]].any(axis=1))
        out.append(t.coverage.population[cov, g].sum())
    return np.array(out)


def weighted_new(t: Tiny, hosts: np.ndarray) -> float:
    """Weighted residents newly covered by a plan."""
    w = np.array([t.rules.service_weight[s] * t.rules.group_weight[g] for s, g in t.coverage.pairs])
    empty = np.zeros_like(hosts)
    return float(w @ (covered(t, hosts) - covered(t, empty)))


def group_shares(t: Tiny, hosts: np.ndarray) -> np.ndarray:
    """Covered share per age group (pooled over the services serving it), groups with residents only."""
    cov = covered(t, hosts)
    tot = np.array([t.coverage.population[:, g].sum() for _s, g in t.coverage.pairs])
    shares = []
    for g in range(t.coverage.population.shape[1]):
        sel = [p for p, (_s, pg) in enumerate(t.coverage.pairs) if pg == g]
        if sel and tot[sel].sum() > 0:
            shares.append(cov[sel].sum() / tot[sel].sum())
    return np.array(shares)
