"""The needs list (高频需求清单): what residents of each community asked for, as service weights.

Resident meetings (院坝会) and surveys give, per community, how often each service was asked
for (a count) or how urgent it is (a priority). The table is long (``community``, ``service``,
``need``: one row per community and service) or wide (``community`` and one column per
service, headed by any of its names). :func:`need_weights` turns it into a multiplier of the
objective weight of every building × service::

    multiplier[b, s] = 1 + need[c(b), s] / mean of the needs given (above 0, services in play)

so every resident still counts (a need of 0, or a community or service the list does not
mention, keeps the multiplier 1) and a need as large as the average doubles the weight of
covering that community with that service. Counts and priorities both work: only their ratios
to the mean matter. Rows of the same community and service add up. The multiplier scales the
residents in the coverage objectives (and their walking time in the walking-time ones); the
shares the report gives are of residents, unweighted.
"""

from __future__ import annotations

import difflib

import numpy as np

from siting.data import readers as io
from siting.data.catalogue import Catalogue, ServiceNames
from siting.errors import DataError, SitingError, rows_text


def _long_or_wide(table: io.PointTable, names: ServiceNames,
                  problems: list[SitingError]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(community, service name, need, row) of every cell of the list."""
    df = table.frame
    if not io.require_columns(df, ["community"], table.path, problems, layer=table.layer):
        return None
    community = io.text_column(df, "community")
    if "service" in df.columns and "need" in df.columns:
        need = io.numeric(df, "need", table.path, minimum=0, problems=problems, layer=table.layer,
                          what="a count or a priority", fix="a need cannot be negative; give 0 for none")
        return community, io.text_column(df, "service"), need, np.arange(len(df))
    service_cols = [c for c in df.columns if c != "community" and names.key(str(c)) is not None]
    if not service_cols:
        problems.append(DataError(
            f"{table.place()}: give the needs as columns community, service, need (社区, 服务, 需求) — one row per "
            f"community and service — or as community and one column per service named by the service; the file "
            f"has {list(df.columns)}"))
        return None
    parts = [io.numeric(df, c, table.path, minimum=0, problems=problems, layer=table.layer,
                        what="a count or a priority", fix="a need cannot be negative; give 0 for none")
             for c in service_cols]
    n = len(df)
    return (np.tile(community, len(service_cols)), np.repeat(np.array(service_cols, dtype=object), n),
            np.concatenate(parts), np.tile(np.arange(n), len(service_cols)))


def need_weights(table: io.PointTable, community: np.ndarray | None, catalogue: Catalogue, names: ServiceNames,
                 problems: list[SitingError], notes: list[str]) -> np.ndarray | None:
    """The objective multiplier of every building × service in play (see the module docstring).

    Parameters
    ----------
    table
        The needs list, read without coordinates.
    community
        The community of every building (``None`` when the buildings have none: a problem).
    catalogue
        The services in play, in order.
    names
        Every service's names.
    problems, notes
        Problems found, and the note with the weights, are appended here.

    Returns
    -------
    numpy.ndarray or None
        Shape (buildings, services in play).
    """
    if community is None:
        problems.append(DataError(
            f"{table.place()}: the needs list is by community, and the buildings have no community; give data.demand "
            f"a community column (社区), or community areas (data.census.areas)"))
        return None
    start = len(problems)
    cells = _long_or_wide(table, names, problems)
    if cells is None:
        return None
    c_name, s_name, need, row = cells
    keys = np.array([names.key(str(s)) or "" for s in s_name], dtype=object)
    for s in sorted({str(s) for s, k in zip(s_name, keys, strict=True) if not k}):
        rows = np.unique(row[s_name == s])
        problems.append(DataError(f"{table.place('service')}, {rows_text(rows)}: {names.unknown(s)}"))
    known_c = sorted({str(c) for c in community if c})
    for c in sorted({str(c) for c in c_name} - set(known_c)):
        rows = np.unique(row[c_name == c])
        close = difflib.get_close_matches(c, known_c, n=3, cutoff=0.5)
        hint = f" (closest: {', '.join(close)})" if close else f" (the buildings' communities: {known_c[:8]})"
        problems.append(DataError(f"{table.place('community')}, {rows_text(rows)}: community {c!r} has no building "
                                  f"in data.demand{hint}; correct the name"))
    if len(problems) > start or not np.isfinite(need).all():
        return None
    services = catalogue.service_keys
    in_play = np.isin(keys, np.array(services, dtype=object))
    if (~in_play).any():
        notes.append(f"{table.place()}: needs of services not in play ignored: "
                     + ", ".join(sorted({str(k) for k in keys[~in_play]})))
    positive = need[in_play] > 0
    mean = float(need[in_play][positive].mean()) if positive.any() else 1.0
    c_index = {c: i for i, c in enumerate(known_c)}
    s_index = {k: j for j, k in enumerate(services)}
    grid = np.zeros((len(known_c), len(services)))
    np.add.at(grid, ([c_index[str(c)] for c in c_name[in_play]], [s_index[str(k)] for k in keys[in_play]]),
              need[in_play])
    multiplier = 1.0 + grid / mean
    b_of = np.array([c_index.get(str(c), -1) for c in community], dtype=np.int64)
    out = np.ones((len(community), len(services)))
    out[b_of >= 0] = multiplier[b_of[b_of >= 0]]
    top = np.argsort(-grid, axis=None, kind="stable")[:5]
    shown = ", ".join(f"{known_c[i]} × {services[j]} ×{multiplier[i, j]:.2f}" for i, j in
                      zip(*np.unravel_index(top, grid.shape), strict=True) if grid[i, j] > 0)
    notes.append(f"{table.path.name}: needs of {len(known_c)} communities set their weights: 1 + need / mean need "
                 f"({mean:,.2f}); the largest: {shown}")
    return out


__all__ = ["need_weights"]
