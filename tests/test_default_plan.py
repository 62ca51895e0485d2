"""The default scenario's plan is one a planner can defend: every basic service it can have, basic first.

Run as a planner runs it (``siting run``, default objective, the embedded district), with the
ranking of retrofit options and without the perturbed-demand samples and the frontier to
keep the test short.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_SCENARIO
from siting.coverage import able_hosts
from siting.data.scenario import load_scenario
from siting.model.rules import SiteData, pair_costs
from siting.pipeline import prepare
from test_cli import siting


@pytest.fixture(scope="module")
def default_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("default")
    raw = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    for key in ("demand", "sites", "existing"):
        raw["data"][key] = str((DEFAULT_SCENARIO.parent / raw["data"][key]).resolve())
    raw["data"]["network"] = {k: str((DEFAULT_SCENARIO.parent / v).resolve())
                              for k, v in raw["data"]["network"].items()}
    raw["analysis"] = {"robustness_samples": 0, "frontier": []}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = folder / "out"
    proc = siting("run", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_every_basic_service_within_reach_of_the_budget_is_provided(default_plan: Path) -> None:
    prepared = prepare(load_scenario(DEFAULT_SCENARIO))
    cat, district = prepared.catalogue, prepared.district
    able = able_hosts(district, cat)
    one = district.sites.retrofit_cost[:, None] + pair_costs(SiteData.of(district.sites), prepared.rules)
    affordable = (able & (one <= prepared.rules.budget)).any(axis=0)  # some allowed site can host it alone
    cov = pd.read_csv(default_plan / "coverage.csv")
    after = cov.groupby("service")["covered_after"].sum()
    checked = []
    for s, svc in enumerate(cat.services):
        if svc.category == "basic" and affordable[s]:
            assert after[svc.key] > 0, f"{svc.key}: some allowed site can host it within the budget, yet 0 %"
            checked.append(svc.key)
    assert len(checked) >= 8  # the embedded ledger can host almost every basic service


def test_no_quality_service_ranks_above_every_basic_service(default_plan: Path) -> None:
    ranking = pd.read_csv(default_plan / "ranking.csv")
    assert {"category", "marginal_gaps", "marginal_value", "marginal_quality"} <= set(ranking.columns)
    basic_ranks = ranking.loc[ranking["category"] == "basic", "rank"]
    quality_ranks = ranking.loc[ranking["category"] == "quality", "rank"]
    assert len(basic_ranks) > 0
    if len(quality_ranks):
        assert quality_ranks.min() > basic_ranks.min()
    # ranked stage by stage: the gaps an option closes, then the basic stage's loss, then quality's
    key = list(zip(-ranking["marginal_gaps"].fillna(np.inf).round(9), -ranking["marginal_value"].fillna(np.inf),
                   -ranking["marginal_quality"].fillna(np.inf), strict=True))
    assert key == sorted(key)


def test_the_report_shows_each_options_gaps_and_its_basic_value_in_percentage_points(default_plan: Path) -> None:
    """The ranking's marginal values are shares of target populations (about 0.005): the report shows them as
    percentage points beside the gaps each option closes, not rounded to 0 residents."""
    import re
    from html import unescape

    ranking = pd.read_csv(default_plan / "ranking.csv")
    report = (default_plan / "report.html").read_text(encoding="utf-8")
    table = report[report.index('<table id="ranking"'):]
    table = table[:table.index("</table>")]
    heads = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
    gaps_col, value_col = heads.index("Gaps 短板"), heads.index("Marginal value (percentage points)")
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr><td class=\"n\".*?</tr>", table, re.S)]
    assert len(rows) == len(ranking) > 0
    for cells, (_i, option) in zip(rows, ranking.iterrows(), strict=True):
        assert cells[gaps_col] == f"{option.marginal_gaps:,.0f}"
        assert cells[value_col] == f"{100 * option.marginal_value:,.2f}"
    assert ranking["marginal_value"].abs().max() > 1e-3  # some option is worth more than 0.1 points


def test_the_summary_states_the_stages_and_the_compliance(default_plan: Path) -> None:
    summary = json.loads((default_plan / "summary.json").read_text(encoding="utf-8"))
    assert summary["objective_kind"] == "standards" and summary["synthetic_data"] is True
    assert [s["stage"] for s in summary["stages"]] == ["gaps", "basic", "quality"]
    assert all(s["status"] == "optimal" for s in summary["stages"])
    comp = pd.read_csv(default_plan / "compliance.csv")
    assert comp["community"].nunique() == 8  # the embedded life circle's eight communities
    assert set(comp["service"]) == set(load_scenario(DEFAULT_SCENARIO).services or comp["service"])
    report = (default_plan / "report.html").read_text(encoding="utf-8")
    assert "示例数据" in report and 'id="compliance-matrix"' in report


@pytest.mark.parametrize("name", ["jiangbei-yubei", "median", "fairness"])
def test_every_objective_reports_its_progress(name: str) -> None:
    """A long solve shows what it is doing (the CLI's status line reads these lines): the standards-first
    default, walking time and fairness, not only the coverage objective."""
    from siting.pipeline import solve_prepared

    lines: list[str] = []
    plan = solve_prepared(prepare(load_scenario(DEFAULT_SCENARIO.parent / f"{name}.yaml")), progress=lines.append)
    assert plan.status.value in ("optimal", "feasible", "time_limit")
    assert any(word in line for line in lines for word in ("branch and bound", "start plan", "greedy")), lines
