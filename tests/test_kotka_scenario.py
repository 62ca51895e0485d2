"""`siting run scenarios/kotka-osm.yaml`: the whole pipeline on a real OSM network, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import DEFAULT_SCENARIO, ROOT

KOTKA = ROOT / "scenarios" / "kotka-osm.yaml"


def test_kotka_scenario_runs_offline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "kotka"
    # no proxy, no network: the extract must come from the installed package
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-m", "siting.cli", "run", str(KOTKA), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in ("optimal", "feasible") and summary["cost"] <= summary["budget"]
    assert "test.osm.pbf" in summary["inputs_sha256"]
    walking = summary["walking"]
    assert walking["mode"] == "network"
    # the extract has a part of its footpaths not connected to any site: reported, not fatal
    assert walking["snapping"]["demand_cut_off_from_every_site"] > 0
    rows = walking["straight_vs_network"]["by_age_group"]
    demand = pd.read_csv(ROOT / "data" / "kotka-osm" / "demand.csv")
    for row in rows:
        assert row["potential_network"] < row["potential_straight"]  # walking along streets costs coverage
        assert row["existing_network"] <= row["existing_straight"]
    # every resident counts once per service of its band: more residents × services than residents
    assert sum(r["residents_x_services"] for r in rows) > demand["residents"].sum()
    assert "split into age bands" in " ".join(walking["notes"])  # children / working / elderly, split with a note
    assert "Straight line vs walking network" in (out / "report.html").read_text(encoding="utf-8")


def test_default_scenario_elderly_lose_most_to_hills_and_stairs() -> None:
    from siting.data.scenario import load_scenario
    from siting.pipeline import prepare

    rows = {r["age_group"]: r for r in prepare(load_scenario(DEFAULT_SCENARIO)).walking.straight_vs_network}
    share = {g: r["existing_network"] / r["existing_straight"] for g, r in rows.items()}
    assert all(s < 1 for s in share.values())
    # slower walkers feel the network more: their reach falls where detours bite
    assert share["oldest_old"] < share["working_age"]


@pytest.mark.parametrize("name", ["demand.csv", "sites.csv", "existing.csv", "README.md"])
def test_kotka_tables_are_committed(name: str) -> None:
    assert (ROOT / "data" / "kotka-osm" / name).is_file()
