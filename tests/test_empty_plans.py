"""Edge cases that have an answer: an empty existing-facilities table, and a budget below every conversion.

A budget below the cheapest conversion is not a mistake — the empty plan is the answer, proven
optimal — but the planner is warned with the figure of the cheapest conversion, in ``run``,
``sweep`` and ``compare`` alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.catalogue import default_catalogue


def _cheapest(t: D.Tables) -> tuple[float, str, str]:
    """The cheapest conversion by hand: retrofit + fit-out over every site and allowed service that fits."""
    cat = default_catalogue()
    best = (np.inf, "", "")
    for row in t.sites.itertuples():
        for key in str(row.allowed).split(";"):
            s = cat.service(key)
            if row.floor_area_m2 >= s.floor_area_m2:
                best = min(best, (row.retrofit_cost + s.fitout_cost, row.id, key))
    return best


def test_an_empty_existing_table_is_allowed(tmp_path: Path) -> None:
    t = D.tables()
    assert t.existing is not None
    t.existing = t.existing.iloc[:0]
    path = D.write(t, tmp_path)
    checked = D.cli("validate", str(path))
    assert checked.code == 0, checked.stderr
    assert "0 existing facilities" in checked.stdout
    ran = D.cli("run", str(path), "--no-analysis", "--out", str(tmp_path / "out"))
    assert ran.code == 0, ran.stderr


def test_a_budget_below_every_conversion_gives_the_empty_plan_with_a_warning(tmp_path: Path) -> None:
    t = D.tables()
    cost, site, service = _cheapest(t)
    t.scenario["budget"] = 1000.0
    path = D.write(t, tmp_path)
    warning = (f"the budget of 1,000 yuan ({path}, field 'budget') is below the cheapest conversion, "
               f"{default_catalogue().service(service).name_zh} ({service}) at site {site} for {cost:,.0f} yuan")
    ran = D.cli("run", str(path), "--no-analysis", "--out", str(tmp_path / "out"))
    assert ran.code == 0, ran.stderr
    out = ran.stdout.replace("\n", "")
    assert "status optimal, gap 0.0000 %, 0 services at 0 sites, cost 0 of 1,000 yuan" in out
    assert warning in out, out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "optimal"
    assert warning in json.dumps(summary, ensure_ascii=False)  # in the notes the report shows
    swept = D.cli("sweep", str(path), "--vary", f"budget=1000:{cost * 2:.0f}:2", "--out", str(tmp_path / "sweep"))
    assert swept.code == 0, swept.stderr
    assert warning in swept.stdout.replace("\n", "")
    compared = D.cli("compare", str(path), str(path), "--out", str(tmp_path / "compare"))
    assert compared.code == 0, compared.stderr
    assert warning in compared.stdout.replace("\n", "")
