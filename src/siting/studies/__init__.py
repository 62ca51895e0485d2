"""Stage 8, studies: many solves of one scenario — ranked options, comparisons, sweeps, variants.

Every re-solve goes through :mod:`siting.studies.resolve`, and every change of a scenario
through :mod:`siting.data.overrides`.
"""
