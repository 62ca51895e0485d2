"""Ranked retrofit options: what each (site, service) of a plan is worth, and how sure we are.

Every option of the plan gets:

* its **marginal value**: the weighted residents the plan would lose if that option were
  forbidden and the rest of the plan re-optimised for the same budget (one re-solve per
  option; the freed budget may buy something else, so this is usually smaller than what the
  option alone covers). Under the standards-first objective the loss is read stage by stage:
  the gaps the plan would no longer close (``marginal_gaps``), then the basic stage's value
  (``marginal_value``), then the quality stage's (``marginal_quality``), and options are
  ranked in that order;
* its **sole coverage** per age group: residents who reach that service only through this
  option, and the option's cost per such resident;
* its **robustness**: the share of perturbed-demand solves that still choose it. Each sample
  multiplies every demand point's population of every age group by an independent factor
  drawn uniformly from ``1 ± perturbation`` (±10 % by default), with a generator seeded from
  the scenario's solver seed and the sample number, so the same scenario gives the same
  samples.

Options not in the plan are ranked by what they would add on top of it (weighted residents
newly covered, no re-solve) and its extra cost.

The re-solves go through :func:`siting.studies.resolve.solve_many`; this module only builds the tasks
(:func:`ranking_tasks`) and reads their results (:func:`rank_options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from siting.coverage import Coverage
from siting.model.rules import PlanningRules, SiteData, pair_costs
from siting.optimizer.standards import standards_weights
from siting.pipeline import Prepared
from siting.pipeline.plan import Plan
from siting.studies.resolve import SolveOutcome, SolveTask

DEFAULT_SAMPLES = 8
DEFAULT_PERTURBATION = 0.10


@dataclass(frozen=True)
class RankingSettings:
    """How options are ranked and tested.

    Attributes
    ----------
    samples
        Number of perturbed-demand solves for robustness (0: no robustness column).
    perturbation
        Half-width of the uniform population factor (0.10: each population ×U(0.9, 1.1)).
    seed
        Seed of the perturbations.
    alternatives
        How many options not in the plan to list.
    """

    samples: int = DEFAULT_SAMPLES
    perturbation: float = DEFAULT_PERTURBATION
    seed: int = 0
    alternatives: int = 5


@dataclass(frozen=True)
class Ranking:
    """Ranked options of a plan and the best options left out.

    Attributes
    ----------
    options
        One row per (site, service) of the plan, best first (see :func:`rank_options`).
    alternatives
        The best options not in the plan, by what they would add.
    settings
        How the ranking was made.
    """

    options: pd.DataFrame
    alternatives: pd.DataFrame
    settings: RankingSettings

    @property
    def robustness_note(self) -> str:
        """One sentence on how robustness was measured."""
        s = self.settings
        if s.samples == 0:
            return "robustness not measured (0 perturbed-demand samples)"
        return (f"share of {s.samples} seeded samples (seed {s.seed}) with every population multiplied by "
                f"a uniform factor in [{1 - s.perturbation:g}, {1 + s.perturbation:g}] whose re-optimised "
                f"plan still chooses the option")


def option_pairs(plan: Plan) -> list[tuple[int, int]]:
    """(site index, service index) of every option in the plan, sorted."""
    j, s = np.nonzero(plan.hosts)
    return sorted(zip(j.tolist(), s.tolist(), strict=True))


def _without(prepared: Prepared, j: int, s: int) -> Prepared:
    sites = prepared.district.sites
    allowed = sites.allowed.copy()
    allowed[j, s] = False
    district = dataclasses.replace(prepared.district, sites=dataclasses.replace(sites, allowed=allowed))
    return dataclasses.replace(prepared, district=district)


def perturbed_population(population: np.ndarray, sample: int, *, perturbation: float, seed: int) -> np.ndarray:
    """Population with every entry multiplied by an independent factor in ``1 ± perturbation``.

    The generator is seeded from ``(seed, sample)``, so a sample is the same on every run.
    """
    rng = np.random.default_rng([seed, sample])
    return population * rng.uniform(1.0 - perturbation, 1.0 + perturbation, size=population.shape)


def _perturbed(prepared: Prepared, sample: int, settings: RankingSettings) -> Prepared:
    cov = prepared.coverage
    population = perturbed_population(cov.population, sample, perturbation=settings.perturbation,
                                      seed=settings.seed)
    return dataclasses.replace(prepared, coverage=dataclasses.replace(cov, population=population))


def _site_service(prepared: Prepared, j: int, s: int) -> str:
    return f"{prepared.district.sites.ids[j]}/{prepared.catalogue.services[s].key}"


def ranking_tasks(prepared: Prepared, plan: Plan, settings: RankingSettings, *,
                  rules: PlanningRules | None = None, backend: str | None = None) -> list[SolveTask]:
    """The re-solves a ranking needs: one per option removed, one per perturbed sample.

    Each starts from the plan it varies: the plan without the option removed, the plan itself
    under perturbed demand (both keep the rules).
    """
    tasks = [SolveTask(f"without {_site_service(prepared, j, s)}", _without(prepared, j, s), rules, backend,
                       {"kind": "removal", "site": int(j), "service": int(s)}, start=_minus(plan.hosts, j, s))
             for j, s in option_pairs(plan)]
    tasks += [SolveTask(f"perturbed demand {i + 1}", _perturbed(prepared, i, settings), rules, backend,
                        {"kind": "perturbed", "sample": i}, start=plan.hosts.copy())
              for i in range(settings.samples)]
    return tasks


def _minus(hosts: np.ndarray, j: int, s: int) -> np.ndarray:
    out = hosts.copy()
    out[j, s] = False
    return out


def objective_weights(prepared: Prepared, rules: PlanningRules, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """What one resident of each coverage pair is worth to the plan's objective, per stage.

    Standards first: (basic services' weights, quality services' weights), each resident counted
    by the share of its service's target population (:func:`siting.optimizer.standards.standards_weights`);
    other objectives: (service weight × age-group weight, zeros).
    """
    coverage = prepared.coverage
    if plan.objective_kind == "standards":
        w = standards_weights(coverage, prepared.catalogue, rules)
        return w.basic, w.quality
    plain = np.array([rules.service_weight[s] * rules.group_weight[g] for s, g in coverage.pairs])
    return plain, np.zeros_like(plain)


def sole_coverage(coverage: Coverage, hosts: np.ndarray, *, weighted: bool = False) -> np.ndarray:
    """Residents each option alone covers, per (site, pair).

    A resident counts for option (j, s) when the service ``s`` reaches them from site ``j``
    and from no other site of the plan nor an existing facility. With ``weighted``, each
    counts with its need weight (:meth:`siting.coverage.Coverage.objective_population`).

    Returns
    -------
    numpy.ndarray
        Shape (sites, pairs): residents of the pair's age group covered only by the site's
        option of the pair's service (zero where the site does not host it).
    """
    out = np.zeros((hosts.shape[0], len(coverage.pairs)))
    for p, ((s, g), reach, base) in enumerate(zip(coverage.pairs, coverage.reach, coverage.baseline, strict=True)):
        col = hosts[:, s]
        if not col.any():
            continue
        count = reach @ col.astype(np.int64)
        sole = (~base) & (count == 1)
        pop = coverage.objective_population(p) if weighted else coverage.population[:, g]
        out[:, p] = (reach.T @ (pop * sole)) * col
    return out


def addition_gain(coverage: Coverage, hosts: np.ndarray, *, weighted: bool = False) -> np.ndarray:
    """Residents each (site, pair) option would newly cover if added to the plan.

    With ``weighted``, each counts with its need weight.

    Returns
    -------
    numpy.ndarray
        Shape (sites, pairs).
    """
    covered = coverage.covered(hosts)
    out = np.zeros((hosts.shape[0], len(coverage.pairs)))
    for p, ((_s, g), reach, cov) in enumerate(zip(coverage.pairs, coverage.reach, covered, strict=True)):
        pop = coverage.objective_population(p) if weighted else coverage.population[:, g]
        out[:, p] = reach.T @ (pop * ~cov)
    return out


def _chosen_share(results: Sequence[SolveOutcome], n_sites: int, n_services: int) -> np.ndarray:
    plans = [r.plan.hosts for r in results if r.plan is not None]
    if not plans:
        return np.full((n_sites, n_services), np.nan)
    return np.asarray(np.mean(np.stack(plans).astype(float), axis=0))


def rank_options(prepared: Prepared, plan: Plan, results: Sequence[SolveOutcome], settings: RankingSettings, *,
                 rules: PlanningRules | None = None,
                 sweep_share: np.ndarray | None = None) -> Ranking:
    """Rank the plan's options from the re-solves of :func:`ranking_tasks`.

    Parameters
    ----------
    prepared, plan
        The scenario's prepared data and its plan.
    results
        Results of :func:`ranking_tasks`, in the same order.
    settings
        As given to :func:`ranking_tasks`.
    rules
        The rules the plan was solved under (default: the prepared scenario's).
    sweep_share
        Optional (sites × services) share of the variants of a sweep or budget frontier that
        choose each option; adds a ``chosen_share_frontier`` column.

    Returns
    -------
    Ranking
        ``options`` columns: rank, site_id, site_name, service, service_zh, service_en, cost,
        marginal_value (weighted residents lost if removed and re-optimised; for a minimised
        objective, the walking minutes or cost it adds), marginal_low /
        marginal_high (the range the solvers' bounds allow), marginal_share (of the plan's
        objective), reoptimised_status, sole_value (weighted residents only this option reaches),
        sole_<group> and cost_per_<group> (residents of the group only this option reaches, and
        cost per such resident), cost_per_value, chosen_share_perturbed, [chosen_share_frontier].
    """
    rules = rules or prepared.rules
    coverage, catalogue, sites = prepared.coverage, prepared.catalogue, prepared.district.sites
    pairs = option_pairs(plan)
    removal = [r for r in results if r.meta.get("kind") == "removal"]
    perturbed = [r for r in results if r.meta.get("kind") == "perturbed"]
    if len(removal) != len(pairs):
        raise ValueError(f"expected {len(pairs)} removal results, got {len(removal)}")
    w_first, w_second = objective_weights(prepared, rules, plan)
    w = w_first + w_second  # a service is in one stage only: its option's value in that stage's units
    staged = plan.objective_kind == "standards"
    sole = sole_coverage(coverage, plan.hosts)
    sole_weighted = sole if coverage.need_weight is None else sole_coverage(coverage, plan.hosts, weighted=True)
    groups = catalogue.group_keys
    robust = _chosen_share(perturbed, *plan.hosts.shape) if settings.samples else None
    a = plan.assignments
    cost_of = {(str(i), str(k)): float(c) for i, k, c in zip(a["site_id"], a["service"], a["cost"], strict=True)}
    rows = []
    for (j, s), res in zip(pairs, removal, strict=True):
        svc = catalogue.services[s]
        cost = cost_of[(str(sites.ids[j]), svc.key)]
        in_pair = np.array([ps == s for ps, _g in coverage.pairs])
        row: dict[str, object] = {
            "site_id": str(sites.ids[j]), "site_name": str(sites.names[j]), "site_kind": str(sites.kinds[j]),
            "service": svc.key, "service_zh": svc.name_zh, "service_en": svc.name_en, "cost": round(cost, 2),
        }
        if res.plan is not None:  # a minimised objective (walking time, cost) loses by going up
            sign = -1.0 if plan.minimises else 1.0
            mv = sign * (plan.objective - res.plan.objective)
            low, high = sign * (plan.objective - res.plan.bound), sign * (plan.bound - res.plan.objective)
        else:  # the requirements need this option: nothing can replace it
            mv = low = high = np.nan
        if staged:  # standards first: the gaps the option closes, then the basic stage, then quality
            row["category"] = svc.category
            for stage in ("gaps", "quality"):
                row[f"marginal_{stage}"] = (plan.stage_value(stage) - res.plan.stage_value(stage)
                                            if res.plan is not None else np.nan)
        row["marginal_value"] = mv
        row["marginal_low"] = low
        row["marginal_high"] = high
        row["marginal_share"] = mv / plan.objective if plan.objective > 0 else np.nan
        row["reoptimised_status"] = res.status.value
        row["sole_value"] = float(w[in_pair] @ sole_weighted[j, in_pair])
        for g, gkey in enumerate(groups):
            sel = in_pair & np.array([pg == g for _ps, pg in coverage.pairs])
            if not sel.any():
                continue
            residents = float(sole[j, sel].sum())
            row[f"sole_{gkey}"] = round(residents, 1)
            row[f"cost_per_{gkey}"] = round(cost / residents, 2) if residents > 0 else np.nan
        row["cost_per_value"] = round(cost / mv, 2) if mv > 1e-9 else np.nan
        if robust is not None:
            row["chosen_share_perturbed"] = float(robust[j, s])
        if sweep_share is not None:
            row["chosen_share_frontier"] = float(sweep_share[j, s])
        rows.append(row)
    options = pd.DataFrame(rows)
    if not options.empty:
        # required options (no re-optimised plan) first, then by marginal value; ties by id
        key = options["marginal_value"].fillna(np.inf)
        zero = pd.Series(0.0, index=options.index)
        gaps = options["marginal_gaps"].fillna(np.inf) if staged else zero
        second = options["marginal_quality"].fillna(np.inf) if staged else zero
        options = (options.assign(_g=-gaps.round(9), _k=-key, _q=-second, _sole=-options["sole_value"])
                   .sort_values(["_g", "_k", "_q", "_sole", "site_id", "service"], kind="stable")
                   .drop(columns=["_g", "_k", "_q", "_sole"]).reset_index(drop=True))
        digits = 6 if plan.in_shares else 2  # shares need more than two decimals
        for c in ("marginal_value", "marginal_low", "marginal_high", "sole_value", "marginal_gaps",
                  "marginal_quality"):
            if c in options:
                options[c] = options[c].round(digits)
        options["marginal_share"] = options["marginal_share"].round(6)
        if staged:  # the gaps stage counts gaps: a whole number (a solver's -1e-9 is 0)
            options["marginal_gaps"] = options["marginal_gaps"].round(0) + 0.0
        options.insert(0, "rank", np.arange(1, len(options) + 1))
    alternatives = _alternatives(prepared, plan, rules, (w_first, w_second), robust, settings.alternatives)
    return Ranking(options, alternatives, settings)


def _alternatives(prepared: Prepared, plan: Plan, rules: PlanningRules, weights: tuple[np.ndarray, np.ndarray],
                  robust: np.ndarray | None, limit: int) -> pd.DataFrame:
    """Options not in the plan, by what they would add on top of it (the first stage's value first)."""
    coverage, catalogue, sites = prepared.coverage, prepared.catalogue, prepared.district.sites
    if limit <= 0:
        return pd.DataFrame()
    gain = addition_gain(coverage, plan.hosts, weighted=True)
    S = len(catalogue.services)
    first = np.zeros((len(sites), S))
    second = np.zeros((len(sites), S))
    for p, (s, _g) in enumerate(coverage.pairs):
        first[:, s] += weights[0][p] * gain[:, p]
        second[:, s] += weights[1][p] * gain[:, p]
    value = first + second
    used = plan.hosts.any(axis=1)
    used_area = plan.hosts.astype(float) @ rules.service_area
    extra_cost = pair_costs(SiteData.of(sites), rules) + np.where(used, 0.0, sites.retrofit_cost)[:, None]
    fits = (sites.allowed & ~plan.hosts & ~rules.force_out[:, None]
            & (used_area[:, None] + rules.service_area[None, :] <= sites.floor_area[:, None] + 1e-9))
    cand_j, cand_s = np.nonzero(fits & (value > 0))
    if cand_j.size == 0:
        return pd.DataFrame()
    order = np.lexsort((cand_s, cand_j, extra_cost[cand_j, cand_s], -second[cand_j, cand_s],
                        -first[cand_j, cand_s]))[:limit]
    digits = 6 if plan.objective_kind == "standards" else 2  # shares of target populations need more decimals
    rows = []
    for j, s in zip(cand_j[order], cand_s[order], strict=True):
        svc = catalogue.services[s]
        row: dict[str, object] = {
            "site_id": str(sites.ids[j]), "site_name": str(sites.names[j]), "site_kind": str(sites.kinds[j]),
            "service": svc.key, "service_zh": svc.name_zh, "service_en": svc.name_en,
            "site_already_converted": bool(plan.hosts[j].any()),
            "extra_cost": round(float(extra_cost[j, s]), 2),
            "added_value": round(float(value[j, s]), digits),
        }
        for g, gkey in enumerate(catalogue.group_keys):
            pairs_g = [p for p, (ps, pg) in enumerate(coverage.pairs) if ps == s and pg == g]
            row[f"added_{gkey}"] = round(float(gain[j, pairs_g[0]]), 1) if pairs_g else np.nan
        row["value_per_10k_yuan"] = round(1e4 * float(value[j, s]) / float(extra_cost[j, s]), digits + 1) \
            if extra_cost[j, s] > 0 else np.nan
        if robust is not None:
            row["chosen_share_perturbed"] = float(robust[j, s])
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["DEFAULT_PERTURBATION", "DEFAULT_SAMPLES", "Ranking", "RankingSettings", "addition_gain",
           "option_pairs", "perturbed_population", "rank_options", "ranking_tasks", "sole_coverage"]
