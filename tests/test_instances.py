"""Readers of the public benchmark instances: formats, conventions and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmarks.instances import (
    SJC_CPMP_OPTIMA,
    read_bds,
    read_mclp_graph,
    read_mclp_sjc,
    read_orlib_pmed,
    read_pmedopt,
    read_sjc_cpmp,
)

from siting.errors import DataError


def test_pmed_last_duplicate_edge_wins_and_distances_are_shortest_paths(tmp_path: Path) -> None:
    f = tmp_path / "pmedx.txt"
    # edge 1-2 listed twice: the last cost (7) wins, not the minimum (3)
    f.write_text(" 3 3 1\n 1 2 3\n 2 3 4\n 2 1 7\n")
    inst = read_orlib_pmed(f)
    assert inst.p == 1 and inst.n == 3
    expected = np.array([[0, 7, 11], [7, 0, 4], [11, 4, 0]], dtype=float)
    np.testing.assert_allclose(inst.cost, expected)


def test_pmed_errors_name_the_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("3 2 1\n1 2 x\n2 3 4\n")
    with pytest.raises(DataError, match=r"bad.txt, line 2"):
        read_orlib_pmed(f)
    f.write_text("3 5 1\n1 2 3\n")
    with pytest.raises(DataError, match="announces 5 edges"):
        read_orlib_pmed(f)
    with pytest.raises(DataError, match="not found"):
        read_orlib_pmed(tmp_path / "missing.txt")
    f.write_text("4 1 1\n1 2 3\n")
    with pytest.raises(DataError, match="not connected"):
        read_orlib_pmed(f)


def test_shared_files_read(benchmarks_dir: Path) -> None:
    opt = read_pmedopt(benchmarks_dir / "orlib-pmed" / "pmedopt.txt")
    assert len(opt) == 40 and opt["pmed1"] == 5819 and opt["pmed40"] == 5128
    p1 = read_orlib_pmed(benchmarks_dir / "orlib-pmed" / "pmed1.txt")
    assert (p1.n, p1.p) == (100, 5)
    assert np.allclose(p1.cost, p1.cost.T) and np.all(np.diag(p1.cost) == 0)
    s1 = read_sjc_cpmp(benchmarks_dir / "sjc-cpmp" / "SJC1.dat")
    assert (s1.n, s1.p) == (100, 10) and s1.capacity is not None and s1.demand is not None
    assert s1.capacity[0] == 720 and s1.demand[0] == 50
    assert s1.cost[0, 1] == pytest.approx(np.hypot(409154 - 409151, 435528 - 435683))
    assert set(SJC_CPMP_OPTIMA) == {"SJC1", "SJC2", "SJC3a", "SJC3b", "SJC4a", "SJC4b"}
    m = read_mclp_sjc(benchmarks_dir / "mclp" / "SJC" / "SJC324.txt")
    assert len(m.demand) == 324 and m.demand[0] == 50 and len(m.site_cost) == 324
    b = read_bds(benchmarks_dir / "mclp" / "BDS" / "BDS1000.txt")
    assert b.site_xy.shape == (100, 2) and b.demand_xy.shape == (1000, 2)
    assert b.demand[-1] == 80 and np.all(b.site_cost == 1)
    reach = b.within(6.25)
    d = np.hypot(*(b.demand_xy[:, None, :] - b.site_xy[None, :, :]).transpose(2, 0, 1))
    assert np.array_equal(reach.toarray(), d <= 6.25)
    dist, demand = read_mclp_graph(benchmarks_dir / "mclp" / "GR" / "GR100.txt")
    assert dist.shape == (100, 100) and demand[0] == pytest.approx(29.87868269)
