"""Which records a similarity search returns from a loaded matrix: exactly, or through its index.

Both paths return the `k` best records with their exact cosine scores, (1 + cos) / 2, best first,
equal scores in row (insertion) order; the index only changes which records are scored. Split
from `labelbook.server.vectors`, which holds the matrices, loads them and keeps them and their
indexes current; the matrix is a Protocol here (no import cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from labelbook.server.vector_index import NeighbourIndex

__all__ = ["EXACT_SHARE", "Scored", "exact", "from_index", "nearest"]

# A filter letting through at most this share of the vectors is answered by scoring those exactly:
# cheaper than steering the graph search past the others, and exact.
EXACT_SHARE = 0.1


class Scored(Protocol):
    """What a search reads of `labelbook.server.vectors`' matrix (its `_VectorMatrix`); the caller
    holds its lock."""

    ids: list[str]
    rows: dict[str, int]
    matrix: np.ndarray
    index: NeighbourIndex | None
    index_pending: set[str]


def from_index(
    matrix: Scored, target: np.ndarray, k: int, allowed: set[str] | None, excluded: str | None
) -> tuple[list[str], np.ndarray]:
    """The `k` best records through the index, scored exactly; the caller holds `matrix.lock`."""
    from labelbook.server.vector_index import breadth, positions_of

    index = matrix.index
    assert index is not None
    rows = matrix.rows
    if allowed is not None and len(allowed) <= EXACT_SHARE * len(matrix.ids):
        return _best_rows(matrix, _rows_of(matrix, allowed, excluded), target, k)
    among, possible = None, len(matrix.ids)
    if allowed is not None:
        among = index.mask_of(allowed)
        possible = int(among.sum())
    count = breadth(k + (excluded is not None), possible / max(1, len(matrix.ids)))
    # Records changed since the index caught up may be missing or stale in it: scored exactly too.
    proposed = [*index.candidates(target, count, among=among), *matrix.index_pending]
    if allowed is not None:
        proposed = [r for r in proposed if r in allowed]
    picked = np.unique(positions_of(proposed, rows))
    picked = picked[picked >= 0]
    if excluded in rows:
        picked = picked[picked != rows[excluded]]
    if len(picked) < min(k, possible - 1):
        # Too few candidates got through the filter: the exact answer, at the exact cost.
        return exact(matrix, target, k, allowed, excluded)
    return _best_rows(matrix, picked, target, k)


def exact(
    matrix: Scored, target: np.ndarray, k: int, allowed: set[str] | None, excluded: str | None
) -> tuple[list[str], np.ndarray]:
    """The `k` best records by exact score, found through the matrix's row numbers (a filter of a
    tenth of the records or less scores those rows only); the caller holds `matrix.lock`."""
    if allowed is not None and len(allowed) <= EXACT_SHARE * len(matrix.ids):
        return _best_rows(matrix, _rows_of(matrix, allowed, excluded), target, k)
    # Elasticsearch's cosine score: (1 + cosine) / 2, in [0, 1].
    scores = (1.0 + matrix.matrix @ target) / 2.0
    # The excluded record's row from the dict: `nearest` finds it with a walk of the ids list
    # (~40 ms at 1M records, a fifth of the search).
    top = _top(_pool(matrix.ids, allowed, matrix.rows.get(excluded or "")), scores, k)
    return [matrix.ids[i] for i in top], scores[top]


def _rows_of(matrix: Scored, allowed: set[str] | None, excluded: str | None) -> np.ndarray:
    """The rows of the `allowed` records (None: all) but `excluded`'s."""
    from labelbook.server.vector_index import positions_of

    if allowed is None:
        positions = np.arange(len(matrix.ids))
    else:
        positions = positions_of(allowed, matrix.rows)
        positions = positions[positions >= 0]
    if excluded in matrix.rows:
        positions = positions[positions != matrix.rows[excluded]]
    return positions


def _best_rows(
    matrix: Scored, positions: np.ndarray, target: np.ndarray, k: int
) -> tuple[list[str], np.ndarray]:
    """The `k` best of the rows at `positions` by exact score, best first; equal scores in row
    (insertion) order, as `nearest` orders them."""
    if len(positions) == 0:
        return [], np.zeros(0, dtype=np.float32)
    scores = (1.0 + matrix.matrix[positions] @ target) / 2.0
    top = np.lexsort((positions, -scores))[:k]
    return [matrix.ids[i] for i in positions[top]], scores[top]


def nearest(
    ids: list[str],
    scores: np.ndarray,
    k: int,
    *,
    allowed: set[str] | None = None,
    excluded: str | None = None,
) -> np.ndarray:
    """The positions of the `k` best scores among the `allowed` ids but `excluded`, best first.

    Among equal scores at the cut and in the order, the earliest records (a stable order).
    """
    excluded_at = ids.index(excluded) if excluded is not None and excluded in ids else None
    return _top(_pool(ids, allowed, excluded_at), scores, k)


def _pool(ids: list[str], allowed: set[str] | None, excluded_at: int | None) -> np.ndarray:
    """The ascending positions of the `allowed` ids (None: all) but the one at `excluded_at`."""
    if allowed is None:
        pool = np.arange(len(ids))
    else:
        # One walk of the ids in order: faster than looking up a large set's ids one by one.
        pool = np.flatnonzero(np.fromiter((i in allowed for i in ids), dtype=bool, count=len(ids)))
    return pool if excluded_at is None else pool[pool != excluded_at]


def _top(pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The positions of the `k` best scores among the ascending positions `pool`, best first;
    among equal scores, the earliest positions."""
    k = min(k, len(pool))
    if k == 0:
        return pool[:0]
    top = pool
    if k < len(pool):
        values = scores[pool]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = pool[values > kth]
        top = np.concatenate([above, pool[values == kth][: k - len(above)]])
    return top[np.lexsort((top, -scores[top]))]
