"""The standards-first model: one model, three objectives solved one after the other.

Over the capacitated covering model of :mod:`siting.model.capacitated` (columns ``x, y, z, v``;
capacity-limited services serve only the residents their places hold) it adds, for each
community ``k`` and basic service ``s`` that no existing facility reaches in ``k`` yet, a binary
``g_ks``: the plan brings ``s`` within reach of some resident of ``k``::

    g_ks ≤ Σ_{j reaches someone in k} x_(j,s)          for every such (k, s)     (presence)
    h_s  ≤ Σ_k g_ks                                    every basic service no one reaches yet

and three objectives, each a column vector over the same model:

* ``gaps`` — ``M Σ_s h_s + Σ g_ks`` with ``M`` one more than the number of ``g``: first the basic
  services the whole district lacks, then those each community lacks (补短板) — integer
  counts, so the weight makes the order exact;
* ``basic`` — ``Σ_s Σ_g w_s w_g · served_sg / target_s`` over the basic services: each service by
  the share of its own target population newly served (each resident times its community's
  need weight for the service, where a needs list gives one);
* ``quality`` — the same over the quality services.

:func:`with_stage` turns the model into the problem of one stage: its objective, and a ``keep``
row per earlier stage holding that stage's value (less a tolerance of 10⁻⁹ relative).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from siting.coverage import Coverage
from siting.model.capacitated import assemble_capacitated
from siting.model.milp import MilpModel, Sense
from siting.model.rules import PlanningRules, SiteData, site_bounds
from siting.model.structure import CoverRows, ShareTarget, SiteColumns, SitingModel

#: Relative tolerance of a kept stage value.
KEEP_TOL = 1e-9


@dataclass(frozen=True)
class StandardsModel:
    """The model with the objective of every stage.

    Attributes
    ----------
    model
        The capacitated covering model with the presence block (objective zero).
    objectives
        Stage name → objective coefficients over all columns, in stage order.
    gaps
        (community, service) of every presence column ``g``.
    """

    model: SitingModel
    objectives: dict[str, np.ndarray] = field(default_factory=dict)
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def cols(self) -> SiteColumns:
        """The (site, service) pairs behind the ``x`` columns."""
        return self.model.cols

    @property
    def rows(self) -> CoverRows:
        """The coverage rows behind the ``z`` columns."""
        return self.model.rows


def presence_matrix(coverage: Coverage, communities: np.ndarray, services: np.ndarray
                    ) -> tuple[list[tuple[int, int]], list[np.ndarray]]:
    """The (community, service) gaps and, for each, the sites that would close it.

    A gap is a community with residents of a service's target bands, none of them within reach
    of an existing facility of the service, and some of them within reach of a candidate site.

    Parameters
    ----------
    coverage
        Coverage per (service, age group).
    communities
        Community code (0..C-1) of each demand point.
    services
        Indices of the services to consider (the basic ones).

    Returns
    -------
    gaps, sites
        (community, service) of each gap, and the boolean site mask that reaches it.
    """
    n_comm = int(communities.max()) + 1 if communities.size else 0
    gaps: list[tuple[int, int]] = []
    masks: list[np.ndarray] = []
    for s in services:
        pairs = [p for p, (ps, _g) in enumerate(coverage.pairs) if ps == s]
        if not pairs:
            continue
        reach = np.zeros((n_comm, coverage.n_sites), dtype=bool)
        present = np.zeros(n_comm, dtype=bool)
        people = np.zeros(n_comm, dtype=bool)
        for p in pairs:
            g = coverage.pairs[p][1]
            has = coverage.population[:, g] > 0
            within = coverage.reach[p].tocsr()
            point = np.repeat(np.arange(within.shape[0]), np.diff(within.indptr))
            on = has[point] & (within.data != 0)
            reach[communities[point[on]], within.indices[on]] = True
            present |= np.bincount(communities[has & coverage.baseline[p]], minlength=n_comm) > 0
            people |= np.bincount(communities[has], minlength=n_comm) > 0
        for k in np.flatnonzero(people & ~present & reach.any(axis=1)):
            gaps.append((int(k), int(s)))
            masks.append(reach[k])
    return gaps, masks


def _absent(coverage: Coverage, service: int) -> bool:
    """No resident of the service's target bands is within reach of an existing facility of it."""
    return not any(coverage.baseline[p][coverage.population[:, g] > 0].any()
                   for p, (s, g) in enumerate(coverage.pairs) if s == service)


def build_standards_model(coverage: Coverage, sites: SiteData, rules: PlanningRules, service_capacity: np.ndarray,
                          *, basic: np.ndarray, quality: np.ndarray, communities: np.ndarray | None,
                          floors: list[ShareTarget] | None = None) -> StandardsModel:
    """Build the staged model (module docstring).

    Parameters
    ----------
    coverage, sites, rules
        Coverage, candidate sites, budget and requirements.
    service_capacity
        Residents one facility of each service serves (``inf``: not capacity-limited).
    basic, quality
        Weight of one resident of each coverage pair in the basic and quality stages.
    communities
        Community code of each demand point (``None``: no gaps stage).
    floors
        Minimum shares served that every stage keeps.
    """
    asm, cols, rows = assemble_capacitated(coverage, sites, rules, service_capacity, floors=floors)
    basic_services = np.unique([s for p, (s, _g) in enumerate(coverage.pairs) if basic[p] > 0]).astype(np.int64)
    gaps: list[tuple[int, int]] = []
    if communities is not None and basic_services.size:
        gaps, masks = presence_matrix(coverage, np.asarray(communities, dtype=np.int64), basic_services)
        if gaps:
            col_of = np.full((cols.n_sites, cols.n_services), -1, dtype=np.int64)
            col_of[cols.x_site, cols.x_service] = np.arange(cols.n_pairs)
            r_idx, c_idx = [], []
            for i, ((_k, s), mask) in enumerate(zip(gaps, masks, strict=True)):
                ks = col_of[np.flatnonzero(mask), s]
                ks = ks[ks >= 0]
                r_idx.append(np.full(ks.size, i))
                c_idx.append(ks)
            n_g = len(gaps)
            reach = sparse.csr_matrix((np.ones(sum(a.size for a in r_idx)), (np.concatenate(r_idx),
                                                                           np.concatenate(c_idx))),
                                      shape=(n_g, cols.n_pairs))
            asm.columns("g", n_g)
            asm.add("presence", {"g": sparse.identity(n_g, format="csr"), "x": -reach}, -np.inf, 0.0)
            missing = [s for s in basic_services
                       if _absent(coverage, int(s)) and any(gs == s for _k, gs in gaps)]
            if missing:
                rows_h = [np.array([i for i, (_k, gs) in enumerate(gaps) if gs == s]) for s in missing]
                link = sparse.csr_matrix((np.ones(sum(r.size for r in rows_h)),
                                          (np.repeat(np.arange(len(missing)), [r.size for r in rows_h]),
                                           np.concatenate(rows_h))), shape=(len(missing), n_g))
                asm.columns("h", len(missing))
                asm.add("district", {"h": sparse.identity(len(missing), format="csr"), "g": -link}, -np.inf, 0.0)
    y_lo, y_hi = site_bounds(rules)
    integer = tuple(b for b in ("x", "y", "g", "h") if b in asm.col_sizes)
    milp = asm.build("standards first", Sense.MAXIMIZE, {}, integer=integer, col_lower={"y": y_lo},
                     col_upper={"y": y_hi})
    blocks = milp.col_blocks
    objectives: dict[str, np.ndarray] = {}
    if gaps:
        c = np.zeros(milp.n_cols)
        c[blocks["g"]] = 1.0
        if "h" in blocks:
            c[blocks["h"]] = float(len(gaps) + 1)
        objectives["gaps"] = c
    counted = rows.weighted if rows.weighted is not None else rows.residents  # the needs list's weights
    for name, w in (("basic", basic), ("quality", quality)):
        if np.any(np.asarray(w) > 0):
            c = np.zeros(milp.n_cols)
            c[blocks["z"]] = np.asarray(counted @ np.asarray(w, dtype=float)).ravel()
            objectives[name] = c
    stats = {"assignments": cols.n_pairs, "sites": cols.n_sites, "coverage_rows": rows.n_rows,
             "allocations": asm.col_sizes["v"], "gaps": len(gaps), "rows": milp.n_rows,
             "nonzeros": int(milp.A.nnz)}
    return StandardsModel(SitingModel(milp, cols, rows, "standards", stats), objectives, tuple(gaps))


def with_stage(milp: MilpModel, objective: np.ndarray, keeps: list[tuple[np.ndarray, float]],
               name: str) -> MilpModel:
    """The problem of one stage: maximise ``objective``, every earlier stage's value kept."""
    if not keeps:
        return replace(milp, objective=objective, name=name)
    K = sparse.csr_matrix(np.vstack([c for c, _v in keeps]))
    values = np.array([v for _c, v in keeps])
    lower = values - KEEP_TOL * np.maximum(np.abs(values), 1.0)
    r0 = milp.n_rows
    return replace(milp, name=name, objective=objective, A=sparse.vstack([milp.A, K], format="csr"),
                   row_lower=np.concatenate([milp.row_lower, lower]),
                   row_upper=np.concatenate([milp.row_upper, np.full(len(keeps), np.inf)]),
                   row_blocks={**milp.row_blocks, "keep": slice(r0, r0 + len(keeps))})


__all__ = ["KEEP_TOL", "StandardsModel", "build_standards_model", "presence_matrix", "with_stage"]
