"""Stage 6, the optimizer: this project's own methods on top of the solver backends.

Reductions (identical rows merged), a fast feasible plan (greedy and local search), a bound
(LP, Benders), kernel and neighbourhood search, and the entry points that put them together
for each objective (:mod:`~siting.optimizer.covering`, :mod:`~siting.optimizer.objectives`,
:mod:`~siting.optimizer.walking`).
"""
