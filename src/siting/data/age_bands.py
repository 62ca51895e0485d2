"""Which columns of a demand table give the residents of which age band, and how coarser counts split.

A demand table gives residents per building either for every age band of the catalogue
(``infants``, ``preschool``... one column each), or for coarser groups the catalogue names as
aggregates (``children`` 0–14, ``working`` 15–59, ``elderly`` 60+, ``population`` everyone), or
a mix. A coarser count is split into its bands in proportion to their census shares — never
silently: :func:`band_sources` returns a note naming the shares for every split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siting.data.catalogue import Catalogue

#: A single column of this name holds everyone, whatever the catalogue's aggregates say.
EVERYONE = "population"


@dataclass(frozen=True)
class BandSources:
    """Where each age band's residents come from.

    Attributes
    ----------
    columns
        Columns to read, in order.
    split
        Per column, the share of its count each band (catalogue order) gets: shape (columns, bands).
    notes
        One line per coarser column split, naming the shares.
    missing
        Bands no column gives (empty when the table is complete).
    """

    columns: tuple[str, ...]
    split: np.ndarray
    notes: tuple[str, ...]
    missing: tuple[str, ...]


def _aggregates(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    out = dict(catalogue.aggregates)
    out.setdefault(EVERYONE, catalogue.group_keys)
    return out


def band_sources(columns: list[str] | tuple[str, ...], catalogue: Catalogue, *, file: str = "demand") -> BandSources:
    """Match a table's columns to the catalogue's age bands (see the module docstring).

    Band columns are taken as they are; a coarser column covers the bands no band column gives,
    smallest coarser group first. A coarser column whose bands are partly given by band columns
    is not used (it would count them twice).
    """
    bands = catalogue.group_keys
    index = {b: i for i, b in enumerate(bands)}
    given = [b for b in bands if b in columns]
    todo = [b for b in bands if b not in given]
    use: list[str] = list(given)
    rows: list[np.ndarray] = []
    for b in given:
        row = np.zeros(len(bands))
        row[index[b]] = 1.0
        rows.append(row)
    notes: list[str] = []
    aggregates = sorted(((k, v) for k, v in _aggregates(catalogue).items() if k in columns and k not in bands),
                        key=lambda kv: (len(kv[1]), kv[0]))
    for name, members in aggregates:
        members = tuple(m for m in members if m in index)
        if not members or any(m not in todo for m in members):
            continue
        shares = np.array([catalogue.group(m).census_share or 0.0 for m in members])
        if len(members) > 1 and shares.sum() <= 0:
            continue  # no shares to split by: the bands stay missing and are named
        part = shares / shares.sum() if len(members) > 1 else np.ones(1)
        row = np.zeros(len(bands))
        row[[index[m] for m in members]] = part
        rows.append(row)
        use.append(name)
        todo = [b for b in todo if b not in members]
        if len(members) > 1:
            described = ", ".join(f"{m} {p:.1%}" for m, p in zip(members, part, strict=True))
            notes.append(f"{file}: column '{name}' split into age bands in proportion to their census shares: "
                         f"{described} (the catalogue's census_share; `siting catalog` lists them with sources)")
    split = np.vstack(rows) if rows else np.zeros((0, len(bands)))
    return BandSources(tuple(use), split, tuple(notes), tuple(todo))


__all__ = ["EVERYONE", "BandSources", "band_sources"]
