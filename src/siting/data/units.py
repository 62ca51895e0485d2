"""Units of money and area, and the plausibility check that catches a unit mistake.

Ledgers give costs in 元 or 万元 (10,000 yuan) and areas in m² (平方米), sometimes in 公顷 or
亩. The unit comes from the table's ``units:`` in the scenario or from the header's brackets
(``改造费用(万元)``); siting works in yuan and m². A cost without a unit is read as yuan — and
because a 万元 figure under an English header is the silent mistake that changes a plan
(a 5,000 m² factory costing 826 yuan), every site's retrofit cost per m² is checked against
:data:`COST_PER_M2_RANGE`.
"""

from __future__ import annotations

import numpy as np

from siting.errors import DataError, SitingError, rows_text

#: Yuan per unit of money.
MONEY_UNITS: dict[str, float] = {
    "元": 1.0, "yuan": 1.0, "cny": 1.0, "rmb": 1.0, "¥": 1.0, "人民币元": 1.0,
    "千元": 1e3, "万元": 1e4, "万": 1e4, "10k yuan": 1e4, "百万元": 1e6, "亿元": 1e8,
}
#: Square metres per unit of area (1 亩 = 10,000/15 m², by definition).
AREA_UNITS: dict[str, float] = {
    "m2": 1.0, "m²": 1.0, "㎡": 1.0, "平方米": 1.0, "平米": 1.0, "sqm": 1.0, "sq m": 1.0,
    "万平方米": 1e4, "公顷": 1e4, "ha": 1e4, "hm2": 1e4, "hm²": 1e4, "亩": 10_000.0 / 15.0,
}
#: The unit of each column that has one, and the units it accepts.
COLUMN_UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "retrofit_cost": ("元", MONEY_UNITS),
    "fixed_cost": ("元", MONEY_UNITS),
    "cost_per_m2": ("元", MONEY_UNITS),  # per m² converted
    "floor_area_m2": ("m²", AREA_UNITS),
}

#: The Chinese header of each cost column, for the fix a message suggests.
HEADER_ZH = {"retrofit_cost": "改造费用", "fixed_cost": "固定费用", "cost_per_m2": "改造单价"}

#: Plausible retrofit cost per m² of floor area, in yuan (chosen). Wide enough for anything from
#: a coat of paint (a few tens of yuan per m²) to gutting and rebuilding a hall (new buildings cost
#: a few thousand yuan per m² in Chongqing), and narrow enough — a factor of 1,000 — that a cost
#: off by the factor of 10,000 between 万元 and 元 always falls outside it.
COST_PER_M2_RANGE: tuple[float, float] = (30.0, 30_000.0)


def unit_factor(unit: str, column: str) -> float | None:
    """The factor turning ``column``'s values in ``unit`` into yuan or m² (``None``: not a unit of it)."""
    entry = COLUMN_UNITS.get(column)
    if entry is None:
        return None
    return entry[1].get(unit.strip().lower().replace(" ", "") if unit.isascii() else unit.strip())


def unit_names(column: str) -> list[str]:
    """The units a column accepts, for messages."""
    entry = COLUMN_UNITS.get(column)
    return list(entry[1]) if entry else []


def cost_per_m2_problems(cost: np.ndarray, area: np.ndarray, *, place: str, ids: np.ndarray | None,
                         unit: str, column: str = "retrofit_cost") -> list[SitingError]:
    """Sites whose retrofit cost per m² lies outside :data:`COST_PER_M2_RANGE`, with the likely unit mistake.

    Parameters
    ----------
    cost, area
        Retrofit cost in yuan (already converted) and floor area in m², per site.
    place
        File and column, for messages.
    ids
        The sites' ids, to name rows.
    unit
        The unit the cost column was read in (``元`` when none was given).
    column
        The cost column to name in the fix (``retrofit_cost``, or ``fixed_cost`` for a ledger
        priced in a fixed part and a part per m²).

    Returns
    -------
    list
        At most two problems: costs too low, costs too high.
    """
    low, high = COST_PER_M2_RANGE
    fine = np.isfinite(cost) & np.isfinite(area) & (cost > 0) & (area > 0)
    per = np.full(cost.shape, np.nan)
    per[fine] = cost[fine] / area[fine]
    problems: list[SitingError] = []
    cheap = np.flatnonzero(fine & (per < low))
    if cheap.size:
        i = int(cheap[0])
        as_wan = per[cheap] * 1e4
        hint = ""
        if unit == "元" and np.all((as_wan >= low) & (as_wan <= high)):
            hint = (f"; looks like 万元: {cost[i]:,.0f} yuan for {area[i]:,.0f} m² would be {cost[i] * 1e4:,.0f} "
                    f"yuan in 万元. Give the unit: units: {{{column}: 万元}} in the scenario, or the header "
                    f"{HEADER_ZH.get(column, column)}(万元)")
        else:
            hint = "; check the unit of the cost (元 or 万元) and the floor area"
        problems.append(DataError(
            f"{place}, {rows_text(cheap, ids)}: {cost[i]:,.0f} yuan for {area[i]:,.0f} m² is {per[i]:,.2f} yuan "
            f"per m², below the plausible {low:,.0f}–{high:,.0f} yuan per m²{hint}"))
    dear = np.flatnonzero(fine & (per > high))
    if dear.size:
        i = int(dear[0])
        as_yuan = per[dear] / 1e4
        if unit == "万元" and np.all((as_yuan >= low) & (as_yuan <= high)):
            hint = (f"; looks like yuan under a 万元 unit: {cost[i] / 1e4:,.0f} 万元 would be {cost[i] / 1e4:,.0f} "
                    f"yuan; remove the 万元 unit or correct the figures")
        else:
            hint = "; check the unit of the cost (元 or 万元) and of the floor area (m², not 万平方米 or 公顷)"
        problems.append(DataError(
            f"{place}, {rows_text(dear, ids)}: {cost[i]:,.0f} yuan for {area[i]:,.0f} m² is {per[i]:,.0f} yuan "
            f"per m², above the plausible {low:,.0f}–{high:,.0f} yuan per m²{hint}"))
    return problems


__all__ = ["AREA_UNITS", "COLUMN_UNITS", "COST_PER_M2_RANGE", "MONEY_UNITS", "cost_per_m2_problems", "unit_factor",
           "unit_names"]
