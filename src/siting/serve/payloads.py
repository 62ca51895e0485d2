"""What the workbench's API returns about a plan: plain JSON-able figures, never a solver object.

Everything is keyed by the catalogue's own keys (services, age groups), never by a fixed
list, so that a catalogue with other age bands or services shows as it is; the coverage table
is passed on with every column the plan has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from siting.data.catalogue import Catalogue
from siting.model.rules import SiteData, usable_pairs
from siting.pipeline import Prepared
from siting.pipeline.plan import OBJECTIVE_MEANING, Plan
from siting.studies.ranking import addition_gain, option_pairs, sole_coverage

#: How many options not in the plan to list, best first.
ADDITIONS = 5


def number(x: Any) -> float | None:
    """A float for JSON (``None`` where not finite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON records: numbers as floats (``None`` where not finite), the rest as text."""
    out = []
    for row in df.to_dict(orient="records"):
        out.append({str(k): (v if isinstance(v, str | bool) else number(v) if isinstance(v, int | float | np.number)
                             else None if v is None else str(v)) for k, v in row.items()})
    return out


def group_label(catalogue: Catalogue, key: str) -> str:
    """``老年人 Elderly``: the age group's two names (the key itself if the catalogue lacks it)."""
    try:
        g = catalogue.group(key)
    except Exception:
        return key
    return f"{g.name_zh} {g.name_en}"


def coverage_by_group(plan: Plan, catalogue: Catalogue) -> list[dict[str, Any]]:
    """Residents × services covered before and after, per age group of the plan's coverage table."""
    cov = plan.coverage
    if cov.empty:
        return []
    by = cov.groupby("age_group", sort=False)[["population", "covered_before", "covered_after"]].sum()
    out = []
    for key, r in by.iterrows():
        pop = float(r.population)
        out.append({"age_group": str(key), "label": group_label(catalogue, str(key)), "population": pop,
                    "covered_before": float(r.covered_before), "covered_after": float(r.covered_after),
                    "share_before": float(r.covered_before) / pop if pop > 0 else None,
                    "share_after": float(r.covered_after) / pop if pop > 0 else None})
    return out


def _pair_weights(prepared: Prepared) -> np.ndarray:
    rules = prepared.rules
    return np.array([rules.service_weight[s] * rules.group_weight[g] for s, g in prepared.coverage.pairs])


def ranked_options(prepared: Prepared, plan: Plan, *, additions: int = ADDITIONS) -> dict[str, list[dict[str, Any]]]:
    """The plan's options ranked by what only they reach, and the best options left out.

    ``options``: every (site, service) of the plan with the weighted residents only it brings
    within reach (``only_here``; per age group in ``only_here_by_group``) and its cost, best
    first — no re-solve, so that it follows every edit at once (the marginal values of
    ``siting run``'s ranking re-solve once per option; they are in an exported report).
    ``additions``: the best pairs not in the plan that the rules allow, by the weighted
    residents each would add on top of it, with the extra cost.
    """
    cov, catalogue, sites = prepared.coverage, prepared.catalogue, prepared.district.sites
    w = _pair_weights(prepared)
    hosts = plan.hosts
    sole = sole_coverage(cov, hosts)
    cost = {(str(i), str(k)): float(c) for i, k, c in
            zip(plan.assignments["site_id"], plan.assignments["service"], plan.assignments["cost"], strict=True)}
    options: list[dict[str, Any]] = []
    for j, s in option_pairs(plan):
        in_s = [p for p, (ps, _g) in enumerate(cov.pairs) if ps == s]
        by_group = {catalogue.group_keys[cov.pairs[p][1]]: float(sole[j, p]) for p in in_s}
        svc = catalogue.services[s]
        options.append({"site": str(sites.ids[j]), "site_name": str(sites.names[j]), "service": svc.key,
                        "service_label": svc.label, "cost": cost.get((str(sites.ids[j]), svc.key)),
                        "only_here": float(sum(w[p] * sole[j, p] for p in in_s)), "only_here_by_group": by_group})
    options.sort(key=lambda o: (-float(o["only_here"]), str(o["site"]), str(o["service"])))
    gain = addition_gain(cov, hosts)
    value = np.zeros(hosts.shape)
    for p, (s, _g) in enumerate(cov.pairs):
        value[:, s] += w[p] * gain[:, p]
    used = np.asarray(hosts.any(axis=1), dtype=bool)
    area = hosts.astype(float) @ prepared.rules.service_area
    fits = (usable_pairs(SiteData.of(sites), prepared.rules, budget=False) & ~hosts
            & (area[:, None] + prepared.rules.service_area[None, :] <= sites.floor_area[:, None] + 1e-9))
    extra = prepared.rules.service_fitout[None, :] + np.where(used, 0.0, sites.retrofit_cost)[:, None]
    cj, cs = np.nonzero(fits & (value > 0))
    order = np.lexsort((cs, cj, extra[cj, cs], -value[cj, cs]))[:additions]
    adds = [{"site": str(sites.ids[j]), "site_name": str(sites.names[j]), "service": catalogue.services[s].key,
             "service_label": catalogue.services[s].label, "would_add": float(value[j, s]),
             "extra_cost": float(extra[j, s]), "site_already_converted": bool(used[j])}
            for j, s in zip(cj[order], cs[order], strict=True)]
    return {"options": options, "additions": adds}


def plan_pairs(plan: Plan) -> list[dict[str, Any]]:
    """The plan's (site, service) list with names and cost."""
    return [{"site": str(r["site_id"]), "site_name": str(r["site_name"]), "service": str(r["service"]),
             "service_label": f"{r['service_zh']} {r['service_en']}", "floor_area_m2": number(r["floor_area_m2"]),
             "cost": number(r["cost"])} for r in plan.assignments.to_dict(orient="records")]


def plan_figures(plan: Plan, catalogue: Catalogue) -> dict[str, Any]:
    """Status, objective, bound, gap, cost and coverage of a plan."""
    return {
        "status": plan.status.value,
        "objective": number(plan.objective),
        "objective_kind": plan.objective_kind,
        "objective_meaning": OBJECTIVE_MEANING.get(plan.objective_kind, plan.objective_kind),
        "bound": number(plan.bound),
        "gap": number(plan.gap),
        "solver": plan.solver,
        "message": plan.message,
        "budget": float(plan.budget),
        "cost": float(plan.cost),
        "sites_used": plan.sites_used,
        "services_placed": len(plan.assignments),
        "plan": plan_pairs(plan),
        "coverage_by_age_group": coverage_by_group(plan, catalogue),
        "coverage": records(plan.coverage),
    }


def _options_of(plan: Plan) -> set[str]:
    return {f"{a.site_id}/{a.service}" for a in plan.assignments.itertuples()}


def _sites_of(plan: Plan) -> set[str]:
    return {str(s) for s in plan.assignments["site_id"]}


def plan_diff(before: Plan, after: Plan, catalogue: Catalogue) -> dict[str, Any]:
    """What changed from one plan to the next: sites and options added or removed, coverage, cost.

    Coverage is compared per age group as the share of residents × services covered (the
    services in play may differ between the two plans); ``change`` is after − before.
    """
    old = {r["age_group"]: r for r in coverage_by_group(before, catalogue)}
    coverage = []
    for r in coverage_by_group(after, catalogue):
        prev = old.get(r["age_group"], {})
        b, a = prev.get("share_after"), r["share_after"]
        coverage.append({"age_group": r["age_group"], "label": r["label"], "before": b, "after": a,
                         "change": (a - b) if a is not None and b is not None else None,
                         "residents_before": prev.get("covered_after"), "residents_after": r["covered_after"]})
    so, sn, oo, on = _sites_of(before), _sites_of(after), _options_of(before), _options_of(after)
    return {
        "sites_added": sorted(sn - so), "sites_removed": sorted(so - sn),
        "options_added": sorted(on - oo), "options_removed": sorted(oo - on),
        "coverage": coverage,
        "cost": {"before": float(before.cost), "after": float(after.cost), "change": float(after.cost - before.cost)},
        "objective": {"before": number(before.objective), "after": number(after.objective),
                      "change": number(after.objective - before.objective)},
        "status": {"before": before.status.value, "after": after.status.value},
    }


def jsonable(value: Any) -> Any:
    """Nested mappings and sequences with numpy scalars turned into plain numbers."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return number(value)
    return value


__all__ = ["ADDITIONS", "coverage_by_group", "group_label", "jsonable", "number", "plan_diff", "plan_figures",
           "plan_pairs", "ranked_options", "records"]
