"""Similarity search through the approximate index (HNSW) against exact scoring, without a server.

Makes N unit vectors (256-d): "random" (normal noise: the hardest case for a graph index, no
structure) and "clustered" (N/100 centres plus noise, within-cluster cosine ~0.8: closer to real
embeddings). For each it builds `labelbook.server.vector_index.NeighbourIndex` as the server does
(time, peak memory above the matrix, size saved on disk), then asks "records similar to this
record" (`k` results, the record itself excluded) of both paths of `labelbook.server.vectors`:

- exact, the anchor: every score (`matrix @ target`) then `nearest`, what a search costs below
  `INDEX_MIN_VECTORS`;
- index: `_from_index`, candidates from the graph re-scored exactly;

and prints p50 of each, their ratio, and recall@k of the index against the exact answer. With
--filter-share, also searches restricted to a random share of the records (a filter or a text
query): at or below `EXACT_SHARE` those are scored exactly, above it the graph search is filtered.

    python benchmarks/similarity_index.py                          # 100k, both datasets
    python benchmarks/similarity_index.py --records 1000000 --data clustered
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "sdk"))
from labelbook.server import vector_scoring, vectors
from labelbook.server.vector_index import NeighbourIndex

# The target for a similarity search at 1M records (the whole request, of which this is
# the scoring part).
TARGET_MS = 100.0
TARGET_RECALL = 0.95


def make_vectors(kind: str, records: int, dimensions: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = np.empty((records, dimensions), dtype=np.float32)
    centres = rng.standard_normal((max(1, records // 100), dimensions)).astype(np.float32)
    for start in range(0, records, 100_000):
        n = min(100_000, records - start)
        block = rng.standard_normal((n, dimensions)).astype(np.float32)
        if kind == "clustered":
            block = centres[rng.integers(0, len(centres), n)] + 0.5 * block
        matrix[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return matrix


class PeakMemory:
    """The process's peak resident memory above where it stood at the start (Linux: VmHWM)."""

    def __enter__(self) -> PeakMemory:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.base = self._kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mib = (self._kib("VmHWM") - self.base) / 1024

    @staticmethod
    def _kib(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/self/status")


def p50_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def run(kind: str, records: int, dimensions: int, queries: int, k: int, shares: list[float]) -> None:
    started = time.perf_counter()
    rows = make_vectors(kind, records, dimensions, seed=14)
    ids = [uuid.UUID(int=i).hex for i in range(records)]
    print(
        f"\n{kind}, {records} x {dimensions} ({rows.nbytes / 2**20:.0f} MiB float32), made in "
        f"{time.perf_counter() - started:.1f} s"
    )
    matrix = vectors._VectorMatrix()
    matrix.install(1, ids, rows)

    ticks = 0
    done = threading.Event()

    def tick() -> None:  # another thread's progress while faiss builds: it must not hold the GIL
        nonlocal ticks
        while not done.wait(0.01):
            ticks += 1

    ticker = threading.Thread(target=tick)
    with PeakMemory() as memory:
        started = time.perf_counter()
        ticker.start()
        index = NeighbourIndex.build(rows, ids)
        done.set()
        ticker.join()
        build_s = time.perf_counter() - started
    assert index is not None
    serialised, labels = index.to_arrays()
    print(
        f"build {build_s:.1f} s (one thread), peak memory +{memory.peak_mib:.0f} MiB over the matrix, "
        f"saved {(serialised.nbytes + labels.nbytes) / 2**20:.0f} MiB; another thread ran "
        f"{ticks / max(build_s / 0.01, 1):.0%} of its ticks meanwhile"
    )
    del serialised, labels
    matrix.index = index

    rng = np.random.default_rng(7)
    picks = rng.choice(records, size=queries, replace=False)
    for share in [1.0, *shares]:
        allowed = None
        if share < 1.0:
            allowed = {ids[i] for i in np.flatnonzero(rng.random(records) < share)}
        exact_times: list[float] = []
        index_times: list[float] = []
        recalls: list[float] = []
        top_equal = 0
        for i in picks:
            target, excluded = rows[i], ids[i]
            started = time.perf_counter()
            scores = (1.0 + matrix.matrix @ target) / 2.0
            top = vectors.nearest(matrix.ids, scores, k, allowed=allowed, excluded=excluded)
            exact = [matrix.ids[j] for j in top]
            exact_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            found, _ = vectors._from_index(matrix, target, k, allowed, excluded)
            index_times.append(time.perf_counter() - started)
            recalls.append(len(set(found) & set(exact)) / max(1, len(exact)))
            top_equal += bool(found) and bool(exact) and found[0] == exact[0]
        exact_p50, index_p50 = p50_ms(exact_times), p50_ms(index_times)
        path = "exact over the allowed" if share <= vector_scoring.EXACT_SHARE else "index"
        recall = statistics.mean(recalls)
        print(
            f"  {'all records' if allowed is None else f'filter {share:.0%}':>12} ({path}): "
            f"exact p50 {exact_p50:6.1f} ms (anchor), index path {index_p50:6.2f} ms "
            f"= {index_p50 / exact_p50:.3f}x; recall@{k} {recall:.3f} "
            f"(target >= {TARGET_RECALL}: {'met' if recall >= TARGET_RECALL else 'MISSED'}), "
            f"top result equal {top_equal}/{queries}; "
            f"index p50 {'within' if index_p50 <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    parser.add_argument("--dimensions", type=int, default=256)
    parser.add_argument("--data", choices=["random", "clustered", "both"], default="both")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("-k", type=int, default=50)
    parser.add_argument("--filter-share", type=float, nargs="*", default=[0.5, 0.05])
    args = parser.parse_args()
    kinds = ["random", "clustered"] if args.data == "both" else [args.data]
    for records in args.records:
        for kind in kinds:
            run(kind, records, args.dimensions, args.queries, args.k, args.filter_share)


if __name__ == "__main__":
    main()
