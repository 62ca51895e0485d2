"""Templates to fill: the ledgers as a workbook with Chinese headers, units, drop-downs and an explanation.

:func:`write_template` writes ``OUT.xlsx`` — 闲置资产一本账 (idle assets), 需求 (residential
buildings and their residents), 现有设施 (existing facilities), 高频需求清单 (the needs list),
说明 (what each column means) and 服务清单 (the services, for the drop-downs) — and a scenario
``OUT.yaml`` beside it that names each sheet, so that the filled workbook runs as it is:
``siting run OUT.yaml``. Every header is one :mod:`siting.data.columns` recognises (the
population columns are the catalogue's age groups), with its unit in brackets.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from siting.data.catalogue import Catalogue
from siting.errors import OutputError

#: (header, meaning, example) of each sheet's columns; population columns are added per age group.
SITES_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("编号", "资产编号，每行唯一 (id)", "S01"),
    ("名称", "资产名称或地址 (name)", "原机械厂老厂房"),
    ("类型", "原用途：厂房、商铺、仓库… (kind)", "厂房"),
    ("经度", "WGS84 经度，度 (lon)；GCJ-02 或 BD-09 请在场景文件中写 coordinates", "106.5331"),
    ("纬度", "WGS84 纬度，度 (lat)", "29.5786"),
    ("建筑面积(平方米)", "可用建筑面积，平方米 (floor_area_m2)", "1200"),
    ("改造费用(万元)", "改造费用，万元 (retrofit_cost)；费用÷面积应在每平方米 30–30,000 元之间", "150"),
    ("可改造用途", "可设置的服务，用分号分隔，从下拉列表选；留空表示任何服务 (allowed)", "日间照料;社区食堂"),
    ("社区", "所属社区 (community)", "观音桥社区"),
)
EXISTING_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("编号", "设施编号，每行唯一 (id)", "E01"),
    ("名称", "设施名称 (name)", "观音桥社区卫生服务站"),
    ("服务", "提供的服务，从下拉列表选 (service)", "卫生服务站"),
    ("经度", "WGS84 经度，度 (lon)", "106.5340"),
    ("纬度", "WGS84 纬度，度 (lat)", "29.5790"),
)
NEEDS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("社区", "社区名称，与「需求」表的社区一致 (community)", "观音桥社区"),
    ("服务", "居民提出的服务，从下拉列表选 (service)", "日间照料"),
    ("需求", "提出次数或优先级，数字 (need)；权重 = 1 + 需求 ÷ 平均需求", "12"),
)
SHEET_SITES, SHEET_DEMAND, SHEET_EXISTING, SHEET_NEEDS = "闲置资产一本账", "需求", "现有设施", "高频需求清单"
SHEET_HELP, SHEET_SERVICES = "说明", "服务清单"


def demand_columns(catalogue: Catalogue) -> tuple[tuple[str, str, str], ...]:
    """The 需求 sheet's columns: a building's id, place, community and residents per age group."""
    groups = tuple((f"{g.name_zh}(人)", f"{g.name_zh}人数，人 ({g.key})", "40") for g in catalogue.age_groups)
    return (("编号", "楼栋编号，每行唯一 (id)", "B001"), ("经度", "WGS84 经度，度 (lon)", "106.5329"),
            ("纬度", "WGS84 纬度，度 (lat)", "29.5781"), ("社区", "所属社区 (community)", "观音桥社区"), *groups)


def write_template(out: Path, catalogue: Catalogue, *, budget: float = 10_000_000.0, overwrite: bool = False) -> Path:
    """Write the empty workbook and its scenario file.

    Parameters
    ----------
    out
        The workbook to write (``.xlsx``); the scenario is written beside it with the suffix ``.yaml``.
    catalogue
        The services (for the drop-downs) and the age groups (for the population columns).
    budget
        The budget written into the scenario, in yuan (to be set by the planner).
    overwrite
        Replace existing files.

    Returns
    -------
    pathlib.Path
        The scenario file.

    Raises
    ------
    OutputError
        When a file exists and ``overwrite`` is false, or ``out`` is not an ``.xlsx`` file.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    if out.suffix.lower() != ".xlsx":
        raise OutputError(f"{out}: a template is an .xlsx workbook; name the file OUT.xlsx")
    scenario_path = out.with_suffix(".yaml")
    for p in (out, scenario_path):
        if p.exists() and not overwrite:
            raise OutputError(f"{p} exists; choose another name, or replace it with --overwrite")
    book = Workbook()
    book.remove(book.active)
    sheets = {SHEET_SITES: SITES_COLUMNS, SHEET_DEMAND: demand_columns(catalogue),
              SHEET_EXISTING: EXISTING_COLUMNS, SHEET_NEEDS: NEEDS_COLUMNS}
    names = [s.name_zh for s in catalogue.services]
    listing = book.create_sheet(SHEET_SERVICES)
    listing.append(["服务 (中文名)", "key", "English"])
    for s in catalogue.services:
        listing.append([s.name_zh, s.key, s.name_en])
    source = f"'{SHEET_SERVICES}'!$A$2:$A${len(names) + 1}"
    for title, columns in sheets.items():
        ws = book.create_sheet(title)
        ws.append([h for h, _, _ in columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for i, (h, _, _) in enumerate(columns):
            ws.column_dimensions[_letter(i)].width = max(10, 2 * len(h) + 2)
        for i, (h, _, _) in enumerate(columns):
            if h not in ("可改造用途", "服务"):
                continue
            multi = h == "可改造用途"
            dv = DataValidation(type="list", formula1=f"={source}", allow_blank=True,
                                showErrorMessage=not multi,
                                error="从「服务清单」选择一项服务" if not multi else None,
                                prompt="可选多项，用分号分隔" if multi else "从列表选择", showInputMessage=True)
            dv.add(f"{_letter(i)}2:{_letter(i)}5000")
            ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
    help_sheet = book.create_sheet(SHEET_HELP, 0)
    help_sheet.append(["表", "列", "含义", "示例"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for title, columns in sheets.items():
        for h, meaning, example in columns:
            help_sheet.append([title, h, meaning, example])
    help_sheet.append([])
    help_sheet.append(["", "", f"填好后运行: siting run {scenario_path.name}（先在其中设定预算 budget，单位元）", ""])
    help_sheet.append(["", "", "「现有设施」和「高频需求清单」可以留空；列名可以保留中文，单位写在括号里。", ""])
    for col, width in zip("ABCD", (14, 22, 70, 24), strict=True):
        help_sheet.column_dimensions[col].width = width
    listing.sheet_state = "hidden"
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in out.stem).strip("-.") or "template"
    scenario = {
        "name": name,
        "title": f"{out.stem} 15分钟社区生活圈",
        "data": {"demand": {"path": out.name, "sheet": SHEET_DEMAND},
                 "sites": {"path": out.name, "sheet": SHEET_SITES},
                 "existing": {"path": out.name, "sheet": SHEET_EXISTING},
                 "needs": {"path": out.name, "sheet": SHEET_NEEDS}},
        "budget": float(budget),
        "walking": {"mode": "euclidean"},
    }
    header = ("# The scenario of the template " + out.name + ": set 'budget' (yuan), then run\n"
              "#   siting run " + scenario_path.name + "\n"
              "# For walking along the streets add data.network and walking.mode: network (docs/walking.md).\n")
    scenario_path.write_text(header + yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return scenario_path


def _letter(i: int) -> str:
    """Spreadsheet column letter of 0-based column ``i`` (A, B, ..., Z, AA, ...)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


__all__ = ["SHEET_DEMAND", "SHEET_EXISTING", "SHEET_NEEDS", "SHEET_SITES", "demand_columns", "write_template"]
