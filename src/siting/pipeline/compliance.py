"""Compliance by community (达标率): does each community reach each service within its radius?

For every community (the demand's ``community`` column; the whole district when there is none)
and every service in play: the target population (the residents of the age bands the service
serves), the share of it within the service's reach before and after the plan, and whether
the community complies — its share within reach is at least :data:`COMPLIANCE_SHARE`.

For the basic services the district falls short on, :func:`shortfalls` says why, in
residents of the target population not covered after the plan:

* *out of reach*: no allowed site and no existing facility reaches them — no plan on this
  ledger can help them (a site nearer them is needed);
* *left out*: a site the ledger allows reaches them, but the plan does not convert it for
  that service (the budget, or the requirements, went elsewhere);
* *beyond capacity*: within reach, but the places of the capacity-limited service serve others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from siting.coverage import Coverage, able_hosts
from siting.data.catalogue import Catalogue
from siting.data.district import District
from siting.pipeline.plan import Plan

#: A community complies with a service when at least this share of the service's target
#: population lies within its reach. Chosen: the standards give radii, not a share; 90 % leaves
#: room for a few buildings at the edge of a circle.
COMPLIANCE_SHARE = 0.9
COMPLIANCE_SOURCE = ("chosen: GB 50180-2018 and TD/T 1062-2021 give service radii, not a share of residents; "
                     "90 % within the radius leaves room for buildings at the edge of a circle")


@dataclass(frozen=True)
class Shortfall:
    """Why a basic service falls short of compliance across the district.

    Attributes
    ----------
    service, label
        Service key and bilingual name.
    share_after
        Share of its target population within reach after the plan.
    target
        Its target population.
    out_of_reach, left_out, beyond_capacity
        Residents of the target population not served, by reason (module docstring).
    """

    service: str
    label: str
    share_after: float
    target: float
    out_of_reach: float
    left_out: float
    beyond_capacity: float

    @property
    def reason(self) -> str:
        """The reasons in words, largest first."""
        parts = [(self.out_of_reach, f"{self.out_of_reach:,.0f} beyond the reach of every allowed site and existing "
                                     f"facility (a site nearer them is needed)"),
                 (self.left_out, f"{self.left_out:,.0f} reachable by an allowed site the plan did not convert for it "
                                 f"(budget or requirements)"),
                 (self.beyond_capacity, f"{self.beyond_capacity:,.0f} within reach but beyond the places")]
        return "; ".join(text for value, text in sorted(parts, key=lambda p: -p[0]) if value >= 0.5) or "—"


def _codes(district: District) -> tuple[np.ndarray, np.ndarray]:
    names = np.asarray(district.demand.communities, dtype=object).astype(str)
    labels, codes = np.unique(names, return_inverse=True)
    return labels, codes.ravel()


def compliance_table(district: District, coverage: Coverage, catalogue: Catalogue, plan: Plan, *,
                     threshold: float = COMPLIANCE_SHARE) -> pd.DataFrame:
    """Per community × service: target population, share within reach before and after, compliance.

    Returns
    -------
    pandas.DataFrame
        Columns community, service, service_zh, category, target_population, within_before,
        within_after, share_before, share_after, complies_before, complies_after, threshold.
        ``community`` is ``""`` for a district without communities (one row per service).
    """
    labels, codes = _codes(district)
    n_comm = labels.size
    before = coverage.baseline
    after = coverage.covered(plan.hosts)
    S = len(catalogue.services)
    target = np.zeros((S, n_comm))
    within_b = np.zeros((S, n_comm))
    within_a = np.zeros((S, n_comm))
    for p, (s, g) in enumerate(coverage.pairs):
        pop = coverage.population[:, g]
        target[s] += np.bincount(codes, weights=pop, minlength=n_comm)
        within_b[s] += np.bincount(codes, weights=pop * before[p], minlength=n_comm)
        within_a[s] += np.bincount(codes, weights=pop * after[p], minlength=n_comm)
    rows = []
    for s, svc in enumerate(catalogue.services):
        for c, name in enumerate(labels):
            t = float(target[s, c])
            sb = within_b[s, c] / t if t > 0 else 1.0
            sa = within_a[s, c] / t if t > 0 else 1.0
            rows.append({"community": str(name), "service": svc.key, "service_zh": svc.name_zh,
                         "category": svc.category, "target_population": round(t, 1),
                         "within_before": round(float(within_b[s, c]), 1),
                         "within_after": round(float(within_a[s, c]), 1),
                         "share_before": round(float(sb), 6), "share_after": round(float(sa), 6),
                         "complies_before": bool(sb >= threshold), "complies_after": bool(sa >= threshold),
                         "threshold": threshold})
    return pd.DataFrame(rows)


def district_compliance(table: pd.DataFrame) -> pd.DataFrame:
    """Per service: share of the district's target population within reach, and the share of its
    communities that comply (达标率), before and after."""
    g = table.groupby(["service", "service_zh", "category"], sort=False)
    out = g.agg(target_population=("target_population", "sum"), within_before=("within_before", "sum"),
                within_after=("within_after", "sum"), communities=("community", "size"),
                compliant_before=("complies_before", "sum"), compliant_after=("complies_after", "sum")).reset_index()
    total = out["target_population"].where(out["target_population"] > 0)
    out["share_before"] = (out["within_before"] / total).fillna(1.0).round(6)
    out["share_after"] = (out["within_after"] / total).fillna(1.0).round(6)
    out["compliance_rate_before"] = (out["compliant_before"] / out["communities"]).round(6)
    out["compliance_rate_after"] = (out["compliant_after"] / out["communities"]).round(6)
    return out


def shortfalls(district: District, coverage: Coverage, catalogue: Catalogue, plan: Plan, *,
               threshold: float = COMPLIANCE_SHARE) -> list[Shortfall]:
    """Every basic service whose district share within reach after the plan is below ``threshold``, with why."""
    able = able_hosts(district, catalogue)
    after = coverage.covered(plan.hosts)
    served = (plan.coverage.set_index(["service", "age_group"])["served_after"]
              if "served_after" in plan.coverage.columns else None)
    out = []
    for s, svc in enumerate(catalogue.services):
        if svc.category != "basic":
            continue
        target = within = out_of_reach = left_out = beyond = 0.0
        for p, (ps, g) in enumerate(coverage.pairs):
            if ps != s:
                continue
            pop = coverage.population[:, g]
            reachable = np.asarray(coverage.reach[p] @ able[:, s].astype(np.int64) > 0).ravel() | coverage.baseline[p]
            target += float(pop.sum())
            within += float(pop[after[p]].sum())
            out_of_reach += float(pop[~reachable].sum())
            left_out += float(pop[reachable & ~after[p]].sum())
            if served is not None:
                got = float(served.get((svc.key, catalogue.age_groups[g].key), pop[after[p]].sum()))
                beyond += max(0.0, float(pop[after[p]].sum()) - got)
        share = within / target if target > 0 else 1.0
        if share < threshold - 1e-12 or beyond >= 0.5:
            out.append(Shortfall(svc.key, svc.label, share, target, out_of_reach, left_out, beyond))
    return out


def service_warnings(district: District, coverage: Coverage, catalogue: Catalogue) -> list[str]:
    """Services in play no ledger row may host, and basic services no allowed site can reach anyone for."""
    able = able_hosts(district, catalogue)
    lines = []
    for s, svc in enumerate(catalogue.services):
        if not district.sites.allowed[:, s].any():
            lines.append(f"warning: {svc.label} ({svc.key}) is in play but no row of the idle-asset ledger may host "
                         f"it (column 'allowed'); no plan can add it")
            continue
        if not able[:, s].any():
            lines.append(f"warning: {svc.label} ({svc.key}) needs {svc.floor_area_m2:,.0f} m², more than any ledger "
                         f"row that allows it offers; no plan can add it")
            continue
        if svc.category == "basic":
            reach = [coverage.reach[p] for p, (ps, _g) in enumerate(coverage.pairs) if ps == s]
            if reach and not any((r @ able[:, s].astype(np.int64) > 0).any() for r in reach):
                lines.append(f"warning: basic service {svc.label} ({svc.key}): no allowed site is within "
                             f"{svc.limit_text} of any resident it serves; no plan can bring it within reach")
    return lines


__all__ = ["COMPLIANCE_SHARE", "COMPLIANCE_SOURCE", "Shortfall", "compliance_table", "district_compliance",
           "service_warnings", "shortfalls"]
