"""The tidy annotation frame: release attribution, native values, wide form, files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from labelbook import annotations as tidy

UTC = timezone.utc


def columns() -> dict[str, list[object]]:
    return {
        "record_id": ["r1", "r1", "r2", "r2"],
        "argilla_record_id": ["u1", "u1", "u2", "u2"],
        "question": ["label", "tags", "label", "tags"],
        "annotator": ["ann", "ann", "ann", "ann"],
        "vendor": ["v", "v", "v", "v"],
        "value": ["a", ["x", "y"], None, None],
        "status": ["submitted", "submitted", "discarded", "discarded"],
        "submitted_at": [
            "2025-01-01T10:00:00",
            "2025-01-01T10:00:00",
            "2025-01-03T00:00:00",
            "2025-01-03T00:00:00",
        ],
        "is_gold": [True, True, False, False],
    }


@pytest.mark.parametrize(
    ("moment", "expected"),
    [("2024-12-31T23:59:59", None), ("2025-01-01T00:00:00", "1.0.0"), ("2025-01-02T12:00:00", "1.1.0")],
)
def test_release_is_the_one_live_at_the_response_time(moment: str, expected: str | None) -> None:
    live = [(datetime(2025, 1, 2, tzinfo=UTC), "1.1.0"), (datetime(2025, 1, 1, tzinfo=UTC), "1.0.0")]
    times = pd.Series(pd.to_datetime([moment], utc=True))
    assert tidy.attribute_releases(times, live).tolist() == [expected]


def test_frame_keeps_native_values_and_utc_times() -> None:
    live = [(datetime(2025, 1, 1, tzinfo=UTC), "1.0.0"), (datetime(2025, 1, 2, tzinfo=UTC), "1.1.0")]
    frame = tidy.frame(columns(), deployments=live)
    assert list(frame.columns) == list(tidy.COLUMNS)
    assert frame["value"].tolist() == ["a", ["x", "y"], None, None]
    assert frame["release"].tolist() == ["1.0.0", "1.0.0", "1.1.0", "1.1.0"]
    assert str(frame["submitted_at"].dt.tz) == "UTC"
    wide = tidy.wide(frame)
    assert wide[["record_id", "label", "tags"]].to_dict("records") == [
        {"record_id": "r1", "label": "a", "tags": ["x", "y"]},
        {"record_id": "r2", "label": None, "tags": None},
    ]
    assert tidy.since(frame, "2025-01-02T00:00:00")["record_id"].tolist() == ["r2", "r2"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_write_round_trips(tmp_path: Path, suffix: str) -> None:
    frame = tidy.frame(columns())
    path = tidy.write(frame, tmp_path / f"a{suffix}")
    if suffix == ".jsonl":
        back = [json.loads(line) for line in path.read_text().splitlines()]
        assert back[1]["value"] == ["x", "y"]
    else:
        back_frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
        assert back_frame["value"][0] == "a"
        listed = back_frame["value_list"][1]
        assert (list(listed) if suffix == ".parquet" else json.loads(listed)) == ["x", "y"]


def mixed() -> pd.DataFrame:
    data = columns()
    data["question"] = ["label", "stars", "tags", "note"]
    data["value"] = ["a", 4, ["x", "y"], "free text, with a comma"]
    return tidy.frame(data, extra={"field.chat": [[{"role": "user", "content": "hi"}]] * 4})


def test_parquet_gives_every_answer_its_own_type_without_json() -> None:
    out = tidy._file_columns(mixed(), ".parquet")
    assert out["value"].tolist() == ["a", "4", '["x", "y"]', "free text, with a comma"]
    assert out["value_number"].tolist() == [pd.NA, 4, pd.NA, pd.NA]
    assert out["value_list"].tolist() == [None, None, ["x", "y"], None]
    assert str(out["value_number"].dtype) == "Int64"
    assert out["field.chat"][0] == [{"role": "user", "content": "hi"}]  # a list of structs in parquet


def test_the_typed_columns_are_there_when_a_task_has_labels_only(tmp_path: Path) -> None:
    data = columns()
    data["question"] = ["label"] * 4
    data["value"] = ["a", "b", None, "a"]
    back = pd.read_parquet(tidy.write(tidy.frame(data), tmp_path / "labels.parquet"))
    assert back["value"].tolist()[:2] == ["a", "b"]
    assert str(back["value_number"].dtype) == "Int64" and back["value_number"].isna().all()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_written_pull_merges_with_a_gold_file_on_value(tmp_path: Path, suffix: str) -> None:
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    pulled = read(tidy.write(mixed(), tmp_path / f"pulled{suffix}"))
    gold = pd.DataFrame(
        {
            "record_id": ["r1", "r1", "r2", "r2"],
            "question": ["label", "stars", "tags", "note"],
            "value": ["a", 4, ["x", "y"], "other"],
        }
    )
    gold = read(tidy.write(gold, tmp_path / f"gold{suffix}"))
    merged = pd.merge(pulled, gold, on=["record_id", "question", "value"])
    assert merged["question"].tolist() == ["label", "stars", "tags"]


def test_wide_keeps_chat_fields_beside_the_answers() -> None:
    wide = tidy.wide(mixed())
    assert list(wide.columns[-4:]) == ["label", "stars", "tags", "note"]
    assert wide["field.chat"].tolist() == [[{"role": "user", "content": "hi"}]] * 2
    assert wide["stars"].tolist() == [4, None]


def pieces() -> list[pd.DataFrame]:
    """`mixed()` in three pieces: the first has no number, no list and no release; the last is empty."""
    live = [(datetime(2025, 1, 2, tzinfo=UTC), "1.0.0")]
    data = columns()
    data["question"] = ["label", "stars", "tags", "note"]
    data["value"] = ["a", 4, ["x", "y"], None]
    whole = tidy.frame(data, deployments=live)
    return [whole.iloc[:1].reset_index(drop=True), whole.iloc[1:].reset_index(drop=True), whole.iloc[:0]]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_frame_written_in_pieces_is_the_file_written_whole(tmp_path: Path, suffix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    whole = pd.concat(pieces(), ignore_index=True)
    expected = tidy.write(whole, tmp_path / f"whole{suffix}")
    types = {"value": pa.string(), "release": pa.string(), "value_list": pa.list_(pa.string())}
    path, rows = tidy.write_chunks(
        iter(pieces()), tmp_path / f"pieces{suffix}", empty=whole.iloc[:0], types=types
    )
    assert rows == len(whole)
    if suffix == ".parquet":
        assert pq.read_schema(path).equals(pq.read_schema(expected), check_metadata=False)
        assert pq.ParquetFile(path).num_row_groups == 2
        pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(expected))
    else:
        assert path.read_text() == expected.read_text()


def test_an_empty_pull_writes_the_empty_file_and_a_failed_one_leaves_nothing(tmp_path: Path) -> None:
    empty = tidy.frame(columns()).iloc[:0]
    path, rows = tidy.write_chunks(iter([empty]), tmp_path / "none.parquet", empty=empty)
    assert rows == 0 and list(pd.read_parquet(path).columns)[:3] == [
        "record_id",
        "argilla_record_id",
        "question",
    ]

    def broken() -> Iterator[pd.DataFrame]:
        yield pieces()[0]
        raise ConnectionError("the server went away")

    with pytest.raises(ConnectionError):
        tidy.write_chunks(broken(), tmp_path / "half.parquet", empty=empty)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.parquet"]  # no half file, no temp file
