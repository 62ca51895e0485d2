"""Tiny siting instances with walking metres, and the walking time of a plan computed by hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siting.walking import Reach
from siting.walking.distances import WalkDistances
from tiny_models import Tiny, make_tiny

CUTOFF = 1000.0


@dataclass(frozen=True)
class WalkTiny:
    """A tiny instance with its dense walking metres (``inf`` beyond the cutoff)."""

    t: Tiny
    distances: WalkDistances
    speeds: np.ndarray
    site_m: np.ndarray  # demand × site
    exist_m: np.ndarray  # demand × existing facility
    exist_service: np.ndarray


def reach_of(metres: np.ndarray) -> Reach:
    """Triplets of the finite entries of a dense matrix, sorted by (origin, destination)."""
    o, d = np.nonzero(np.isfinite(metres))
    return Reach(o.astype(np.int64), d.astype(np.int64), metres[o, d], metres.shape, CUTOFF)


def make_walk_tiny(pairs: list[tuple[int, int]], population: np.ndarray, site_m: np.ndarray, exist_m: np.ndarray,
                   exist_service: np.ndarray, limits: list[float], speeds: np.ndarray, **kw: object) -> WalkTiny:
    """Coverage follows from the metres: a pair's limit in flat-equivalent metres."""
    reach = [site_m <= lim for lim in limits]
    base = [((exist_m <= lim) & (exist_service == s)[None, :]).any(axis=1) for (s, _g), lim in zip(pairs, limits,
                                                                                                 strict=True)]
    t = make_tiny(pairs, population, reach, base, **kw)  # type: ignore[arg-type]
    return WalkTiny(t, WalkDistances(reach_of(site_m), reach_of(exist_m), exist_service), speeds, site_m, exist_m,
                    exist_service)


def random_walk_tiny(seed: int) -> WalkTiny:
    """Up to 5 sites, 2 services, 2 age groups, 7 demand points, 2 existing facilities; ties and zeros."""
    rng = np.random.default_rng(seed)
    n, m, S, G, E = (int(rng.integers(2, 8)), int(rng.integers(1, 6)), int(rng.integers(1, 3)), 2,
                     int(rng.integers(0, 3)))
    pairs = [(s, g) for s in range(S) for g in range(G) if s == 0 or g == 1 or rng.random() < 0.5]

    def metres(shape: tuple[int, int]) -> np.ndarray:
        d = np.round(rng.uniform(0, 1.4 * CUTOFF, shape), -2)  # multiples of 100 m: ties and zeros
        return np.where(d <= CUTOFF, d, np.inf)

    site_m, exist_m = metres((n, m)), metres((n, E))
    allowed = rng.random((m, S)) < 0.8
    max_sites = np.where(rng.random(S) < 0.5, rng.integers(1, 3, S), -1).astype(np.int64)
    min_sites = np.where(rng.random(S) < 0.15, 1, 0)
    return make_walk_tiny(
        pairs, rng.integers(0, 50, (n, G)).astype(float), site_m, exist_m, rng.integers(0, S, E),
        [float(rng.choice([400.0, 700.0, CUTOFF])) for _ in pairs], rng.choice([0.9, 1.0, 1.25], G),
        floor_area=rng.choice([100.0, 200.0, 300.0], m), retrofit_cost=rng.integers(1, 5, m) * 10.0,
        allowed=allowed, service_area=rng.choice([80.0, 150.0], S), service_fitout=rng.integers(1, 4, S) * 5.0,
        budget=float(rng.integers(25, 80)), group_weight=rng.choice([1.0, 2.0], G),
        service_weight=rng.choice([1.0, 3.0], S), min_sites=min_sites.astype(np.int64), max_sites=max_sites,
        force_in=(fin := rng.random(m) < 0.1), force_out=(rng.random(m) < 0.1) & ~fin)


def walking_minutes(w: WalkTiny, hosts: np.ndarray) -> float:
    """Weighted walking minutes of a plan, by hand: each walk to the nearest open facility, capped."""
    t = w.t
    total = 0.0
    for s, g in t.coverage.pairs:
        for i in range(t.coverage.population.shape[0]):
            walks = [CUTOFF]
            walks += [w.site_m[i, j] for j in range(hosts.shape[0]) if hosts[j, s]]
            walks += [w.exist_m[i, e] for e in range(w.exist_m.shape[1]) if w.exist_service[e] == s]
            nearest = min(walks)
            total += (t.rules.service_weight[s] * t.rules.group_weight[g] * t.coverage.population[i, g]
                      * nearest / (60.0 * w.speeds[g]))
    return total
