"""The approximate index on its own (no server): changes, filters, saving, and the exact re-scoring."""

from __future__ import annotations

import numpy as np
import pytest

from labelbook.server import vectors
from labelbook.server.vector_index import EF_SEARCH, NeighbourIndex, breadth

RECORDS = 600
DIMENSIONS = 8


def unit_rows(seed: int, records: int = RECORDS) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(records, DIMENSIONS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def built() -> tuple[list[str], np.ndarray, NeighbourIndex]:
    ids = [f"{i:032x}" for i in range(RECORDS)]
    rows = unit_rows(1)
    index = NeighbourIndex.build(rows, ids)
    assert index is not None
    return ids, rows, index


def test_each_record_is_found_by_its_own_vector(built: tuple[list[str], np.ndarray, NeighbourIndex]) -> None:
    ids, rows, index = built
    for i in (0, 17, RECORDS - 1):
        assert index.candidates(rows[i], 5)[0] == ids[i]


def test_a_changed_record_moves_and_a_deleted_one_is_never_proposed() -> None:
    ids = [f"{i:032x}" for i in range(RECORDS)]
    rows = unit_rows(2)
    index = NeighbourIndex.build(rows, ids)
    assert index is not None
    rows[3] = rows[400]  # record 3 now points where record 400 does
    positions = {r: i for i, r in enumerate(ids) if i != 9}  # record 9 deleted
    index.replace([ids[3], ids[9]], positions, rows)
    assert index.dead == 2 and ids[9] not in index.label_of and not index.worn_out()
    assert set(index.candidates(rows[400], 2)) == {ids[3], ids[400]}
    assert ids[9] not in index.candidates(unit_rows(2)[9], RECORDS)
    index.replace(list(positions), positions, rows)  # every record changed once more
    assert index.dead == 2 + RECORDS - 1 and index.worn_out()


def test_a_filtered_search_proposes_only_the_allowed_records(
    built: tuple[list[str], np.ndarray, NeighbourIndex],
) -> None:
    ids, rows, index = built
    allowed = set(ids[::3])
    found = index.candidates(rows[1], 50, among=index.mask_of(allowed | {"not a record"}))
    assert len(found) == 50 and set(found) <= allowed


def test_a_saved_index_answers_the_same_and_refuses_labels_that_do_not_match(
    built: tuple[list[str], np.ndarray, NeighbourIndex],
) -> None:
    _, rows, index = built
    serialised, labels = index.to_arrays()
    again = NeighbourIndex.from_arrays(serialised, labels)
    assert again.candidates(rows[5], 20) == index.candidates(rows[5], 20)
    with pytest.raises(ValueError, match="600 vectors in the index for 599 labels"):
        NeighbourIndex.from_arrays(serialised, labels[1:])


def test_breadth_grows_as_the_filter_narrows_within_bounds() -> None:
    assert breadth(51, 1.0) == EF_SEARCH
    assert breadth(51, 0.5) == 2 * EF_SEARCH
    assert breadth(51, 0.001) == 8192
    assert breadth(5000, 1.0) == 10000


def test_through_the_index_ties_come_in_insertion_order_as_the_exact_search_gives_them(
    built: tuple[list[str], np.ndarray, NeighbourIndex],
) -> None:
    ids, rows, _ = built
    rows = rows.copy()
    rows[[50, 7, 300]] = rows[200]  # four records with the same vector
    matrix = vectors._VectorMatrix()
    matrix.install(1, ids, rows)
    matrix.index = NeighbourIndex.build(rows, ids)
    for allowed in (None, set(ids[:400]), set(ids[::20]) | {ids[7], ids[50], ids[300]}):
        found, scores = vectors._from_index(matrix, rows[200], 6, allowed, ids[200])
        exact_scores = (1.0 + rows @ rows[200]) / 2.0
        top = vectors.nearest(ids, exact_scores, 6, allowed=allowed, excluded=ids[200])
        assert found == [ids[i] for i in top]
        assert found[:3] == [ids[7], ids[50], ids[300]]
        assert scores == pytest.approx(exact_scores[top])


def test_without_an_index_the_matrix_answers_as_the_exact_search_over_every_score(
    built: tuple[list[str], np.ndarray, NeighbourIndex],
) -> None:
    ids, rows, _ = built
    rows = rows.copy()
    rows[[50, 7, 300]] = rows[200]
    matrix = vectors._VectorMatrix()
    matrix.install(1, ids, rows)
    exact_scores = (1.0 + rows @ rows[200]) / 2.0
    # No filter, a wide one (the whole product) and a narrow one (those rows only); ties included.
    for allowed in (None, set(ids[:400]), set(ids[::20]) | {ids[7], ids[50], ids[300]}):
        for excluded in (ids[200], None, "not-a-record"):
            found, scores = vectors._exact(matrix, rows[200], 6, allowed, excluded)
            top = vectors.nearest(ids, exact_scores, 6, allowed=allowed, excluded=excluded)
            assert found == [ids[i] for i in top]
            assert scores == pytest.approx(exact_scores[top])
    assert vectors._exact(matrix, rows[200], 6, set(), None)[0] == []


def test_recall_is_measured_against_exact_scoring(
    built: tuple[list[str], np.ndarray, NeighbourIndex],
) -> None:
    from labelbook.server.vector_index import recall

    ids, rows, index = built
    assert recall(index, ids, rows) >= 0.95
    # An index of other vectors under these ids proposes the wrong records: its recall shows it
    # (with more records than the candidates a search looks at, which are all re-scored exactly).
    many = [f"{i:032x}" for i in range(4 * EF_SEARCH)]
    wrong = NeighbourIndex.build(unit_rows(9, len(many)), many)
    assert wrong is not None
    assert recall(wrong, many, unit_rows(10, len(many))) < 0.5
