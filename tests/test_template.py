"""``siting template``: empty ledgers with Chinese headers and drop-downs, filled here and run end to end.

The filled workbook holds the small district of :mod:`districts` (costs in 万元, Chinese service
names); its plan must be the plan of the same district as plain CSV in yuan.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import yaml

import districts as D  # noqa: N812 - the test helpers, short
from siting.data.age_bands import band_sources
from siting.data.catalogue import default_catalogue
from siting.data.scenario import load_scenario
from siting.data.template import SHEET_DEMAND, SHEET_EXISTING, SHEET_NEEDS, SHEET_SITES
from siting.pipeline import run_scenario

ZH = {s.key: s.name_zh for s in default_catalogue().services}


def _fill(book: openpyxl.Workbook, sheet: str, rows: list[dict[str, object]]) -> None:
    ws = book[sheet]
    headers = [c.value for c in ws[1]]
    for row in rows:
        ws.append([row.get(str(h), None) for h in headers])


def test_template_filled_and_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "江北台账.xlsx"
    made = D.cli("template", str(out), "--budget", "1")
    assert made.code == 0, made.stderr
    scenario_path = out.with_suffix(".yaml")
    assert out.is_file() and scenario_path.is_file()
    book = openpyxl.load_workbook(out)
    assert {SHEET_SITES, SHEET_DEMAND, SHEET_EXISTING, SHEET_NEEDS, "说明"} <= set(book.sheetnames)
    sites_header = [c.value for c in book[SHEET_SITES][1]]
    assert "改造费用(万元)" in sites_header and "建筑面积(平方米)" in sites_header
    validations = [*book[SHEET_SITES].data_validations.dataValidation,
                   *book[SHEET_EXISTING].data_validations.dataValidation]
    assert any("服务清单" in str(v.formula1) for v in validations)  # the drop-down of service names
    assert D.cli("template", str(out)).code == 2  # never overwritten without --overwrite

    t = D.tables(n_demand=20, n_sites=7)
    cat = default_catalogue()
    groups = cat.age_groups
    bands = band_sources(["children", "working", "elderly"], cat)  # the template asks for every age band
    counts = (t.demand[list(bands.columns)].to_numpy(float) @ bands.split).round(1)
    t.demand = t.demand.drop(columns=["children", "working", "elderly"]).assign(
        **{g.key: counts[:, k] for k, g in enumerate(groups)})
    _fill(book, SHEET_SITES, [{"编号": r.id, "名称": r.name, "类型": "商铺", "经度": r.lon, "纬度": r.lat,
                               "建筑面积(平方米)": r.floor_area_m2, "改造费用(万元)": r.retrofit_cost / 10_000,
                               "可改造用途": ";".join(ZH[k] for k in r.allowed.split(";")), "社区": "观音桥社区"}
                              for r in t.sites.itertuples()])
    _fill(book, SHEET_DEMAND, [{"编号": r["id"], "经度": r["lon"], "纬度": r["lat"], "社区": "观音桥社区",
                                **{f"{g.name_zh}(人)": r[g.key] for g in groups}}
                               for r in t.demand.to_dict(orient="records")])
    # 现有设施 and 高频需求清单 stay empty: allowed
    book.save(out)
    raw = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    raw.update(budget=t.scenario["budget"], services=t.scenario["services"], solver=t.scenario["solver"])
    scenario_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    ran = D.cli("run", str(scenario_path), "--no-analysis", "--out", str(tmp_path / "out"))
    assert ran.code == 0, ran.stderr

    t.existing = None
    csv_path = D.write(t, tmp_path / "csv")
    filled, plain = run_scenario(load_scenario(scenario_path)), run_scenario(load_scenario(csv_path))
    a, b = filled.plan.assignments, plain.plan.assignments
    assert sorted(zip(a["site_id"], a["service"], strict=True)) == sorted(zip(b["site_id"], b["service"],
                                                                              strict=True))
    assert len(a) > 0
    assert abs(filled.plan.objective - plain.plan.objective) < 1e-6
