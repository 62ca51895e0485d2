"""A "1+6+N" city in phases: themes, each circle's money, pilots and phases, the example city end to end.

The money each circle may spend in each phase is recomputed here from the city file and the
data alone (the flagship's own budget, the themed circles' shares, the rest split by residents
read from ``demand.csv``, money no circle takes moving on to the next phase, each circle's
leftover carried over), and ``schedule.csv`` must keep every circle within it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from siting.city.files import load_city
from siting.city.phased import run_phased_city
from siting.city.themes import circle_money, default_themes
from siting.data.catalogue import default_catalogue
from siting.errors import ScenarioError
from test_batch import write_city
from test_cli import assert_user_error, siting

CITY = ROOT / "cities" / "jiangbei-1-6-n.yaml"
SEED_CIRCLES = {"渝北社区": "综合", "忠恕沱社区": "康养", "三洞桥社区": "金融", "和悦社区": "产业", "茅溪社区": "文体",
                "工校社区": "创业", "望江片区": "银龄"}


def test_the_six_themes_of_the_seed_and_the_flagship_are_built_in() -> None:
    themes = {t.name_zh: t for t in default_themes()}
    assert set(SEED_CIRCLES.values()) <= set(themes)
    keys = set(default_catalogue().service_keys)
    for t in themes.values():
        assert t.meaning, t.key
        assert set(t.weights) <= keys and set(t.required) <= keys, t.key


def test_money_split_by_hand() -> None:
    """Phases 100, 60, 40; circle 0 has 30 of its own from phase 1 on, circle 1 a tenth of each phase, circles
    2 (30 residents) and 3 (10 residents) share the rest, circle 3 from phase 2 on."""
    active = np.array([[True, True, True], [True, True, True], [True, True, True], [False, True, True]])
    money, lost = circle_money(np.array([100.0, 60.0, 40.0]), active, np.array([30.0, np.nan, np.nan, np.nan]),
                               np.array([np.nan, 0.1, np.nan, np.nan]), np.array([0.0, 0.0, 30.0, 10.0]))
    assert money[0] == pytest.approx([15.0, 9.0, 6.0])  # 30 spread like 100 : 60 : 40
    assert money[1] == pytest.approx([10.0, 6.0, 4.0])
    assert money[2] == pytest.approx([75.0, 45.0 * 0.75, 30.0 * 0.75])
    assert money[3] == pytest.approx([0.0, 45.0 * 0.25, 30.0 * 0.25])
    assert lost == 0.0
    # nobody to take phase 1's rest: it moves to phase 2 (or is lost when the phase does not carry over)
    late = np.array([[False, True]])
    assert circle_money(np.array([10.0, 5.0]), late, np.array([np.nan]), np.array([np.nan]), np.ones(1))[0][0] == \
        pytest.approx([0.0, 15.0])
    assert circle_money(np.array([10.0, 5.0]), late, np.array([np.nan]), np.array([np.nan]), np.ones(1),
                        np.array([False, True]))[1] == pytest.approx(10.0)


def expected_money(raw: dict, demand: pd.DataFrame) -> dict[str, list[float]]:
    """Each circle's allocation per phase, from the city file's words and the residents in demand.csv."""
    names = [str(p["name"]) for p in raw["phases"]]
    budgets = [raw["budget"] * p["share"] for p in raw["phases"]]
    bands = ["infants", "preschool", "school_age", "working_age", "seniors", "oldest_old"]
    residents = demand.assign(n=demand[bands].sum(axis=1)).groupby("community")["n"].sum()
    settings = raw["circles"]["settings"]
    pilots = set(raw["pilots"])
    start = {c: 0 if c in pilots else names.index(str(s.get("phase", names[0]))) for c, s in settings.items()}
    money = {c: [0.0] * len(names) for c in settings}
    for c, s in settings.items():
        active = [t for t in range(len(names)) if (t == 0 if c in pilots else t >= start[c])]
        if "budget" in s:
            total = sum(budgets[t] for t in active)
            for t in active:
                money[c][t] = s["budget"] * budgets[t] / total
        elif "budget_share" in s:
            for t in active:
                money[c][t] = s["budget_share"] * budgets[t]
    carried = 0.0
    for t in range(len(names)):
        pool = budgets[t] - sum(m[t] for m in money.values()) + carried
        takers = [c for c, s in settings.items() if "budget" not in s and "budget_share" not in s
                  and c not in pilots and t >= start[c]]
        carried = 0.0 if takers else pool
        for c in takers:
            money[c][t] = pool * residents[c] / sum(residents[k] for k in takers)
    return money


@pytest.fixture(scope="module")
def city_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city") / "out"
    proc = siting("batch", str(CITY), "--out", str(out), "--scheduler", "sync")
    assert proc.returncode == 0, proc.stderr
    return out


def test_example_city_runs_and_every_circle_stays_within_its_money(city_run: Path) -> None:
    raw = yaml.safe_load(CITY.read_text(encoding="utf-8"))
    demand = pd.read_csv(ROOT / "data" / "jiangbei-1-6-n" / "demand.csv")
    money = expected_money(raw, demand)
    names = [str(p["name"]) for p in raw["phases"]]
    schedule = pd.read_csv(city_run / "schedule.csv", keep_default_na=False)
    circles = pd.read_csv(city_run / "circles.csv")
    assert set(SEED_CIRCLES) <= set(circles["circle"]) and len(circles) == 12
    for c, alloc in money.items():
        mine = schedule[schedule["circle"] == c]
        left = 0.0
        for t, name in enumerate(names):
            spent = float(mine.loc[mine["phase"].astype(str) == name, "cost"].sum())
            have = alloc[t] + left
            assert spent <= have + 1.0, (c, name, spent, have)
            left = have - spent
        row = circles[circles["circle"] == c].iloc[0]
        assert row[f"money_{names[0]}"] == pytest.approx(alloc[0], abs=1.0)  # nothing carried into the first
    # the flagship is done in 2025, in full; circles from 2026 or 2027 open nothing before
    assert set(schedule.loc[schedule["circle"] == "渝北社区", "phase"].astype(str)) == {"2025"}
    first = schedule.groupby("circle")["phase_index"].min()
    for c, s in raw["circles"]["settings"].items():
        if "phase" in s and c in first:
            assert first[c] >= names.index(str(s["phase"])) + 1, c
    # themes: their names on every seed circle, their required services where the ledger allows them
    theme = dict(zip(circles["circle"], circles["theme"], strict=True))
    for c, zh in SEED_CIRCLES.items():
        assert str(theme[c]).startswith(zh)
    plan = pd.read_csv(city_run / "plan.csv")
    kangyang = set(plan.loc[plan["circle"] == "忠恕沱社区", "service"])
    assert {"elderly_day_care", "health_station"} <= kangyang


def test_example_city_summary_and_report(city_run: Path) -> None:
    summary = json.loads((city_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["synthetic_data"] is True and summary["status"] == "optimal"
    assert summary["bound"] >= summary["objective"] - 1e-6
    phases = summary["phases"]["phases"]
    assert [p["phase"] for p in phases] == ["2025", "2026", "2027"]
    assert all(p["spend"] <= p["money"] + 1.0 for p in phases)
    assert sum(p["spend"] for p in phases) == pytest.approx(summary["cost"], abs=2.0)
    html = (city_run / "report.html").read_text(encoding="utf-8")
    data = json.loads(html.split('id="siting-map-data">', 1)[1].split("</script>", 1)[0])
    assert {c["name"] for c in data["circles"]} >= set(SEED_CIRCLES)
    assert [p["name"] for p in data["plans"]] == ["opened in 2025 新增", "opened in 2026 新增", "opened in 2027 新增"]
    assert {c["theme"] for c in data["circles"]} >= set(SEED_CIRCLES.values())
    for marker in ('id="timeline-chart"', 'id="coverage-by-phase-chart"', 'id="schedule"', "示例数据"):
        assert marker in html, marker


def small_city(folder: Path, **extra: object) -> Path:
    """The batch tests' three-neighbourhood city, in two phases with themes."""
    return write_city(folder, budget=8_000_000, objective={"kind": "standards"},
                      phases=[{"name": "一期", "share": 0.5}, {"name": "二期", "share": 0.5}],
                      **extra)


def test_phased_city_on_two_workers_equals_the_sequential_run(tmp_path: Path, local_cluster) -> None:  # type: ignore[no-untyped-def]
    path = small_city(tmp_path, pilots=["C1"], circles={"count": 3, "seed": 0,
                                                        "settings": {"C2": {"theme": "康养", "phase": "二期"}}})
    city = load_city(path)
    sequential = run_phased_city(city, scheduler="sync")
    spread = run_phased_city(city, executor=local_cluster)
    assert "LocalCluster" in spread.executor or "local" in spread.executor.lower()
    for a, b in zip(sequential.plans, spread.plans, strict=True):
        assert a.circle == b.circle
        assert np.array_equal(a.joint.schedule.pair_phase, b.joint.schedule.pair_phase)
        assert a.joint.objective == pytest.approx(b.joint.objective)
    c1 = next(p for p in sequential.plans if p.circle == "C1")
    assert c1.setup.pilot and (c1.joint.schedule.pair_phase <= 0).all() and c1.joint.schedule.opened(0).any()
    c2 = next(p for p in sequential.plans if p.circle == "C2")
    assert not c2.joint.schedule.opened(0).any() and c2.setup.money[0] == 0.0


def test_city_settings_mistakes_are_named(tmp_path: Path) -> None:
    path = small_city(tmp_path / "a", circles={"count": 3, "settings": {"C9": {"theme": "康养"}}})
    proc = siting("batch", str(path), "--scheduler", "sync", "--out", str(tmp_path / "o"))
    assert_user_error(proc, "circles.settings", "C9", "C1")
    path = small_city(tmp_path / "b", circles={"count": 3, "settings": {"C1": {"theme": "养老"}}})
    proc = siting("batch", str(path), "--scheduler", "sync", "--out", str(tmp_path / "o"))
    assert_user_error(proc, "circles.settings.C1.theme", "养老", "康养")
    path = small_city(tmp_path / "c", pilots=["C1"], circles={"count": 3, "settings": {"C1": {"phase": "二期"}}})
    proc = siting("batch", str(path), "--scheduler", "sync", "--out", str(tmp_path / "o"))
    assert_user_error(proc, "C1 is a pilot", "二期")
    path = small_city(tmp_path / "d", circles={"count": 3, "settings": {"C1": {"budget_share": 0.7},
                                                                        "C2": {"budget_share": 0.5}}})
    proc = siting("batch", str(path), "--scheduler", "sync", "--out", str(tmp_path / "o"))
    assert_user_error(proc, "own budgets", "一期")
    with pytest.raises(ScenarioError, match="budget_share"):
        load_city(small_city(tmp_path / "e", circles={"count": 3, "settings": {"C1": {"budget": 1e6,
                                                                                      "budget_share": 0.2}}}))


def test_a_city_of_its_own_themes(tmp_path: Path) -> None:
    path = small_city(tmp_path, themes={"智慧": {"name_en": "smart", "meaning": "health first",
                                               "weights": {"health_station": 5}, "required": ["health_station"]}},
                      circles={"count": 3, "settings": {"C1": {"theme": "智慧"}, "C3": {"theme": "智慧"}}})
    result = run_phased_city(load_city(path), scheduler="sync")
    for p in result.plans:
        if p.circle in ("C1", "C3"):
            assert p.setup.theme_label == "智慧 smart"
            assert "health_station" in set(p.joint.final.assignments["service"])


def test_the_pricing_batch_report_has_the_interactive_map_with_its_circles(tmp_path: Path) -> None:
    path = write_city(tmp_path / "city")
    out = tmp_path / "out"
    proc = siting("batch", str(path), "--out", str(out), "--scheduler", "sync")
    assert proc.returncode == 0, proc.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    data = json.loads(html.split('id="siting-map-data">', 1)[1].split("</script>", 1)[0])
    assert [c["name"] for c in data["circles"]] == ["C1", "C2", "C3"]
    plan = pd.read_csv(out / "plan.csv")
    assert {s["id"] for s in data["plans"][0]["sites"]} == set(plan["site_id"])
    assert len(data["demand"]["before"]) == len(data["demand"]["id"]) == len(pd.read_csv(path.parent / "demand.csv"))
    assert "leaflet" in html.lower() and 'id="map"' in html
