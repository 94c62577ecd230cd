"""An approximate nearest-neighbour index (faiss's HNSW) over one vector settings' unit vectors.

Only large matrices get one (`labelbook.server.vectors.INDEX_MIN_VECTORS`): scoring a million
256-d vectors exactly streams 1 GB of float32 per search, about 90 ms on this machine whatever
the code. Like Argilla's Elasticsearch engine (an HNSW `knn` with `num_candidates` and a filter),
the index proposes candidates and the caller scores them exactly from its matrix, so the scores
returned are exact and only which records come back can differ from an exact search.

The graph holds 8-bit quantised copies of the vectors (256 bytes a 256-d vector, a quarter of the
float32 matrix) and uses the L2 distance, whose order on unit vectors is the cosine's. Its labels
are faiss's sequential ids: a changed record's old label is marked dead (HNSW cannot remove a
node) and its new vector added under a new label; dead labels are left out of every search by
a selector, and the index is rebuilt once they outnumber the live ones.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

import faiss as _faiss
import numpy as np

# faiss-cpu's own __init__.pyi is partial (no SearchParametersHNSW, IndexHNSWSQ's signature wrong).
faiss: Any = _faiss

__all__ = ["RECALL_K", "NeighbourIndex", "breadth", "positions_of", "recall"]

# Graph degree and build effort: on 100k clustered 256-d vectors, M=32 with efConstruction=64 gives
# recall@50 of 1.0 at efSearch 256 (M=16 with 40 gave 0.89) for ~2.5x the build time.
_M = 32
_EF_CONSTRUCTION = 64
# Candidates examined per search, at least (efSearch), all re-scored exactly. Clustered vectors
# (like real embeddings) need ~256 for recall@50 ~1.0; structureless normal noise needs 1024 for
# ~0.96 at 50k (256: 0.73). A search stays a few ms, far below exact scoring at 1M.
EF_SEARCH = 1024
# How many of the exact best a recall check (`recall`) compares with the index's.
RECALL_K = 50
# More when a filter lets through a small share (the graph search walks past the rest), up to this.
_EF_MAX = 8192
# Vectors added per faiss call while building: between calls, a superseded build stops.
_BUILD_CHUNK = 20_000
# Vectors the 8-bit quantiser learns its ranges from.
_TRAIN_SAMPLE = 50_000


def positions_of(record_ids: Iterable[str], positions: dict[str, int]) -> np.ndarray:
    """Each record's position in `positions`, -1 for those not in it (a C loop: ~0.4 us a record)."""
    return np.fromiter(map(positions.get, record_ids, itertools.repeat(-1)), dtype=np.int64)


def breadth(wanted: int, share: float) -> int:
    """How many candidates to ask for to get `wanted` among a `share` of the vectors (the filter's)."""
    # The graph search walks past the records the filter leaves out: look at that many more.
    return max(2 * wanted, min(_EF_MAX, int(EF_SEARCH / max(share, 1e-6))))


class NeighbourIndex:
    """An HNSW graph over 8-bit quantised unit vectors, and which record each of its labels is."""

    def __init__(self, index: Any, labels: list[str | None]) -> None:
        self.index = index
        # label -> record id; None once the label is dead (its record changed or was deleted).
        self.labels = labels
        self.label_of = {record_id: i for i, record_id in enumerate(labels) if record_id is not None}
        self._live_bits: np.ndarray | None = None

    @property
    def dead(self) -> int:
        return len(self.labels) - len(self.label_of)

    def worn_out(self) -> bool:
        """Whether dead labels outnumber live ones: searches wade through them, a rebuild is due."""
        return self.dead > len(self.label_of)

    @classmethod
    def build(
        cls, matrix: np.ndarray, ids: list[str], *, stop: Callable[[], bool] = lambda: False
    ) -> NeighbourIndex | None:
        """An index of `matrix`'s rows (record `ids[i]` is row i); None when `stop()` said so."""
        dimensions = matrix.shape[1]
        index = faiss.IndexHNSWSQ(dimensions, faiss.ScalarQuantizer.QT_8bit, _M)
        index.hnsw.efConstruction = _EF_CONSTRUCTION
        rng = np.random.default_rng(0)
        sample = rng.choice(len(ids), size=min(len(ids), _TRAIN_SAMPLE), replace=False)
        index.train(np.ascontiguousarray(matrix[np.sort(sample)]))
        # One core of two: the other keeps answering requests (faiss releases the GIL meanwhile).
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        for start in range(0, len(ids), _BUILD_CHUNK):
            if stop():
                return None
            index.add(np.ascontiguousarray(matrix[start : start + _BUILD_CHUNK], dtype=np.float32))
        return cls(index, list(ids))

    def replace(self, record_ids: Iterable[str], rows: dict[str, int], matrix: np.ndarray) -> None:
        """Reflect changed records: each one's old label dies, its current row (if any) is added."""
        added: list[str] = []
        for record_id in record_ids:
            label = self.label_of.pop(record_id, None)
            if label is not None:
                self.labels[label] = None
            if record_id in rows:
                added.append(record_id)
        if added:
            block = np.ascontiguousarray(matrix[[rows[r] for r in added]], dtype=np.float32)
            self.index.add(block)
            for record_id in added:
                self.label_of[record_id] = len(self.labels)
                self.labels.append(record_id)
        self._live_bits = None

    def candidates(self, target: np.ndarray, count: int, *, among: np.ndarray | None = None) -> list[str]:
        """Up to `count` records near the unit `target`, nearest first by the quantised distance.

        `among` (a bool per label) limits the search to those labels; dead labels never come back.
        """
        keep = among
        if keep is None and self.dead:
            keep = self.live_mask()
        elif keep is not None and self.dead:
            keep = keep & self.live_mask()
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(count, EF_SEARCH)
        bits = None
        if keep is not None:
            bits = np.packbits(keep, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(bits))
        _, found = self.index.search(target.reshape(1, -1).astype(np.float32), count, params=params)
        del bits  # held until here: the selector points into it
        return [self.labels[label] for label in found[0] if label >= 0 and self.labels[label] is not None]

    def live_mask(self) -> np.ndarray:
        """A bool per label: whether its record is current."""
        if self._live_bits is None:
            mask = np.zeros(len(self.labels), dtype=bool)
            mask[list(self.label_of.values())] = True
            self._live_bits = mask
        return self._live_bits

    def mask_of(self, record_ids: Iterable[str]) -> np.ndarray:
        """A bool per label: whether its record is one of `record_ids`."""
        mask = np.zeros(len(self.labels), dtype=bool)
        labels = positions_of(record_ids, self.label_of)
        mask[labels[labels >= 0]] = True
        return mask

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(the serialised faiss index, the labels' record ids with b"" for dead ones), to save."""
        serialised = faiss.serialize_index(self.index)
        labels = np.array([r or "" for r in self.labels], dtype="S32")
        return serialised, labels

    @classmethod
    def from_arrays(cls, serialised: np.ndarray, labels: np.ndarray) -> NeighbourIndex:
        """The index `to_arrays` saved; ValueError when the two do not belong together."""
        index = faiss.deserialize_index(np.ascontiguousarray(serialised, dtype=np.uint8))
        if index.ntotal != len(labels):
            raise ValueError(f"{index.ntotal} vectors in the index for {len(labels)} labels")
        return cls(index, [r or None for r in labels.astype(str).tolist()])

    @property
    def dimensions(self) -> int:
        return int(self.index.d)


def recall(index: NeighbourIndex, ids: list[str], rows: np.ndarray, samples: int = 12) -> float:
    """The share of the exact top `RECALL_K` the index's candidates hold, over sampled records' vectors.

    Each sample is one exact product over `rows` (~90 ms at 1M x 256), in the building thread.
    """
    rng = np.random.default_rng(0)
    positions = {record_id: i for i, record_id in enumerate(ids)}
    found = 0
    picks = rng.choice(len(ids), size=min(samples, len(ids)), replace=False)
    for target in rows[picks]:
        exact = set(np.argpartition(-(rows @ target), RECALL_K)[:RECALL_K].tolist())
        proposed = positions_of(index.candidates(target, EF_SEARCH), positions)
        scores = rows[proposed] @ target
        found += len(exact & set(proposed[np.argsort(-scores)[:RECALL_K]].tolist()))
    return found / (len(picks) * RECALL_K) if len(picks) else 1.0
