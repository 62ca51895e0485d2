"""Walking distances: Tobler's slope factor, stairs, network shortest paths against a hand check."""

from __future__ import annotations

import numpy as np
import pytest

from siting.walking import WalkingNetwork, euclidean_reach, network_reach, tobler_factor


def test_tobler_flat_is_one_and_uphill_slower_than_downhill() -> None:
    assert tobler_factor(0.0) == pytest.approx(1.0)
    assert tobler_factor(0.1) < 1.0
    assert tobler_factor(-0.05) > tobler_factor(0.0)  # gentle downhill is fastest
    assert tobler_factor(0.1) < tobler_factor(-0.1)
    # hand value: 6 exp(-3.5 * 0.15) / (6 exp(-3.5 * 0.05)) at s = 0.1
    assert tobler_factor(0.1) == pytest.approx(np.exp(-3.5 * 0.1))


def _line(elev: list[float] | None, stairs: list[bool] | None = None) -> WalkingNetwork:
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    return WalkingNetwork(xy, None if elev is None else np.array(elev), np.array([0, 1]), np.array([1, 2]),
                          np.array([100.0, 100.0]), np.array(stairs or [False, False]))


def test_network_distance_uphill_and_downhill() -> None:
    net = _line([0.0, 10.0, 20.0])  # 10 % grade
    origins = np.array([[0.0, 0.0]])
    dest = np.array([[200.0, 0.0]])
    up, _, _ = network_reach(net, origins, dest, cutoff_m=1000)
    down, _, _ = network_reach(net, dest, origins, cutoff_m=1000)
    assert up.metres[0] == pytest.approx(200 / tobler_factor(0.1))
    assert down.metres[0] == pytest.approx(200 / tobler_factor(-0.1))
    assert up.metres[0] > down.metres[0]
    flat, _, _ = network_reach(_line(None), origins, dest, cutoff_m=1000)
    assert flat.metres[0] == pytest.approx(200.0)


def test_stairs_slower_than_the_same_flat_edge() -> None:
    origins, dest = np.array([[0.0, 0.0]]), np.array([[200.0, 0.0]])
    flat, _, _ = network_reach(_line([0, 0, 0]), origins, dest, cutoff_m=1000)
    steps, _, _ = network_reach(_line([0, 0, 0], [False, True]), origins, dest, cutoff_m=1000, stairs_factor=2.0)
    assert steps.metres[0] == pytest.approx(100 + 200.0)
    assert steps.metres[0] > flat.metres[0]


def test_network_equals_floyd_warshall_on_a_random_graph() -> None:
    rng = np.random.default_rng(3)
    n = 40
    xy = rng.uniform(0, 1000, (n, 2))
    elev = rng.uniform(0, 30, n)
    u, v = np.triu_indices(n, 1)
    keep = np.hypot(*(xy[u] - xy[v]).T) < 260
    u, v = u[keep], v[keep]
    length = np.hypot(*(xy[u] - xy[v]).T)
    net = WalkingNetwork(xy, elev, u, v, length, np.zeros(u.size, dtype=bool))
    # Floyd–Warshall by hand on flat-equivalent metres
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0)
    for a, b, ln in zip(u, v, length, strict=True):
        d[a, b] = min(d[a, b], ln / tobler_factor((elev[b] - elev[a]) / ln))
        d[b, a] = min(d[b, a], ln / tobler_factor((elev[a] - elev[b]) / ln))
    for k in range(n):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    origins = xy[:25]
    dest = xy[25:]
    reach, _, _ = network_reach(net, origins, dest, cutoff_m=800, chunk=4)
    expected = d[:25, 25:]
    got = np.full_like(expected, np.inf)
    got[reach.origin, reach.destination] = reach.metres
    within = expected <= 800
    assert np.array_equal(np.isfinite(got), within)
    assert np.allclose(got[within], expected[within])


def test_euclidean_reach_keeps_zero_distance_and_cutoff() -> None:
    o = np.array([[0.0, 0.0], [500.0, 0.0]])
    d = np.array([[0.0, 0.0], [100.0, 0.0]])
    r = euclidean_reach(o, d, detour=1.3, cutoff_m=200)
    pairs = {(int(a), int(b)): m for a, b, m in zip(r.origin, r.destination, r.metres, strict=True)}
    assert pairs == {(0, 0): 0.0, (0, 1): pytest.approx(130.0)}
    assert r.within(100).toarray().tolist() == [[True, False], [False, False]]
