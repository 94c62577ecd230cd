"""`Project`: reconnect to what a notebook's releases were published to, and pull the annotations.

project = lb.Project.open("guide.ipynb")      # reads guide.labelbook/project.json
annotations = project.annotations()            # the tidy frame (labelbook.annotations)
project.annotations(wide=True, fields=True, since="2025-06-01T00:00:00Z")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import labelbook.argilla._api as _api
from labelbook.argilla._client import Connection, connect
from labelbook.argilla.roster import roster_versions, usernames, vendors_at
from labelbook.argilla.state import Annotator, ProjectState, read_gold, state_dir
from labelbook.errors import LabelbookError
from labelbook.releases import deployments, store_path

if TYPE_CHECKING:
    import argilla as rg
    import pandas as pd

    from labelbook.argilla.result import PublishResult


def _value(kind: str, raw: Any) -> Any:
    if kind == "ranking" and isinstance(raw, list):
        return [item["value"] for item in sorted(raw, key=lambda item: item.get("rank") or 0)]
    return raw


@dataclass
class _Rows:
    """Turns records as the server lists them into the tidy frame; one copy for `annotations` and `pull`."""

    kinds: dict[str, str]
    names: dict[str, str]
    gold: set[str]
    field_names: list[str]
    metadata_names: list[str]
    deployments: list[tuple[datetime, str]]
    rosters: list[tuple[datetime, list[Annotator]]]
    since: datetime | str | None

    def frame(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        """The tidy frame of these records' responses (vendors per roster version, `since` applied)."""
        import labelbook.annotations as tidy

        kinds, names, gold = self.kinds, self.names, self.gold
        field_names, metadata_names = self.field_names, self.metadata_names
        cols: dict[str, list[Any]] = {name: [] for name in tidy.COLUMNS if name != "release"}
        extra: dict[str, list[Any]] = {f"field.{n}": [] for n in field_names}
        extra.update({f"metadata.{n}": [] for n in metadata_names})
        record_id, argilla_id, question_col = cols["record_id"], cols["argilla_record_id"], cols["question"]
        annotator, vendor, value_col = cols["annotator"], cols["vendor"], cols["value"]
        status_col, at_col, gold_col = cols["status"], cols["submitted_at"], cols["is_gold"]
        for record in records:
            rid = record.get("external_id") or record["id"]
            is_gold = rid in gold
            for response in record.get("responses") or ():
                user = names.get(response["user_id"], response["user_id"])
                values = response.get("values") or {}
                answered = list(values.items()) or [(q, {"value": None}) for q in kinds]
                for question, holder in answered:
                    record_id.append(rid)
                    argilla_id.append(record["id"])
                    question_col.append(question)
                    annotator.append(user)
                    vendor.append("")
                    value_col.append(_value(kinds.get(question, ""), holder.get("value")))
                    status_col.append(response["status"])
                    at_col.append(response["updated_at"])
                    gold_col.append(is_gold)
                    for name in field_names:
                        extra[f"field.{name}"].append(record["fields"].get(name))
                    for name in metadata_names:
                        extra[f"metadata.{name}"].append((record.get("metadata") or {}).get(name))
        out = tidy.frame(cols, deployments=self.deployments, extra=extra)
        # Each answer keeps the vendor of the roster live when it was saved, not today's roster's.
        out["vendor"] = vendors_at(out["annotator"], out["submitted_at"], self.rosters)
        if self.since is not None:
            out = tidy.since(out, self.since)
        return out


class Project:
    """A published labeling project: its dataset on an Argilla server, its roster and gold answers."""

    def __init__(
        self,
        notebook: str | os.PathLike[str],
        state: ProjectState,
        connection: Connection,
        *,
        last_publish: PublishResult | None = None,
    ) -> None:
        self.notebook = Path(notebook)
        """The guide notebook (its release store and state sit beside it)."""
        self.state = state
        """project.json: server, workspace, dataset, live release, roster."""
        self.connection = connection
        """The connection to the server (its API key is not in any repr)."""
        self.last_publish = last_publish
        """What the publish that returned this project did (None for `Project.open`)."""

    def __repr__(self) -> str:
        return (
            f"Project(dataset={self.state.dataset!r}, workspace={self.state.workspace!r}, "
            f"url={self.state.server_url!r}, release={self.state.version!r})"
        )

    def _repr_html_(self) -> str:
        """A summary in a notebook, with a link to the dataset in the Argilla UI (no key, no password)."""
        import html

        return (
            f"<div><b>{html.escape(self.state.dataset)}</b> <small>workspace "
            f"{html.escape(self.state.workspace)} · release {html.escape(str(self.state.version))}</small>"
            f'<br><a href="{html.escape(self.url)}" target="_blank" rel="noopener">Open in Argilla</a> '
            f"<small>{html.escape(self.state.server_url)}</small></div>"
        )

    @classmethod
    def open(
        cls,
        notebook: str | os.PathLike[str],
        *,
        api_url: str | None = None,
        api_key: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> Project:
        """Reconnect to the dataset the notebook was last published to."""
        folder = state_dir(store_path(notebook))
        state = ProjectState.read(folder)
        if state is None:
            raise LabelbookError(
                f"{notebook}: not published yet ({folder / 'project.json'} is missing); "
                f"run `labelbook publish {notebook} --records FILE` first."
            )
        connection = connect(
            api_url,
            api_key,
            data_dir=data_dir,
            recorded_url=state.server_url,
            recorded_data_dir=state.data_dir,
            purpose="pull from",
        )
        return cls(notebook, state, connection)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The dataset in the Argilla web UI."""
        return f"{self.state.server_url}/dataset/{self.state.dataset_id}/annotation-mode"

    @property
    def dataset(self) -> rg.Dataset:
        """The dataset as the argilla SDK's `rg.Dataset`: go on with the SDK (records, progress, settings)."""
        from labelbook.errors import BackendError

        with self.connection.errors(f"reading dataset {self.state.dataset!r}"):
            found = self.connection.client.datasets(id=self.state.dataset_id)
        if found is None:
            raise BackendError(
                f"dataset {self.state.dataset!r} ({self.state.dataset_id}) is no longer on "
                f"{self.state.server_url}; publish the notebook again to make it anew."
            )
        return found

    def progress(self) -> dict[str, int]:
        """Records in the dataset: total, completed (enough submitted answers) and pending."""
        dataset = self.dataset
        with self.connection.errors("reading the progress"):
            reply = dataset.progress()
        return {key: int(reply.get(key) or 0) for key in ("total", "completed", "pending")}

    def gold(self) -> pd.DataFrame:
        """The expert answers, tidy: record_id, question, value (kept locally, never uploaded)."""
        import pandas as pd

        rows = [
            {"record_id": record_id, "question": question, "value": value}
            for record_id, answers in read_gold(state_dir(store_path(self.notebook))).items()
            for question, value in answers.items()
        ]
        return pd.DataFrame(rows, columns=["record_id", "question", "value"])

    def _usernames(self) -> dict[str, str]:
        return usernames(self.connection, self.state.workspace_id)

    def records(self) -> list[dict[str, Any]]:
        """Every record of the dataset as the server lists it, with its responses (user ids, not
        names); what `annotations` is made from, for callers that need the records themselves."""
        listed = _api.records(self.connection, self.state.dataset_id, responses=True, doing="pulling records")
        return cast(list[dict[str, Any]], listed)

    def _rows(
        self, fields: bool | list[str], metadata: bool | list[str], since: datetime | str | None
    ) -> _Rows:
        """What turns listed records into the tidy frame: the task, usernames, gold, releases, rosters."""
        from labelbook.task import Task

        task_path = store_path(self.notebook) / self.state.version / "task.json"
        task = Task.from_json(task_path.read_text(encoding="utf-8"), source=str(task_path))
        folder = state_dir(store_path(self.notebook))
        return _Rows(
            kinds={q.name: q.kind for q in task.questions},
            names=self._usernames(),
            gold=set(read_gold(folder)),
            field_names=[f.name for f in task.fields] if fields is True else list(fields or []),
            metadata_names=[m.name for m in task.metadata] if metadata is True else list(metadata or []),
            deployments=[
                (d.at, d.version) for d in deployments(self.notebook) if d.dataset_id == self.state.dataset_id
            ],
            rosters=roster_versions(folder, self.state.roster),
            since=since,
        )

    def annotations(
        self,
        *,
        wide: bool = False,
        fields: bool | list[str] = False,
        metadata: bool | list[str] = False,
        since: datetime | str | None = None,
    ) -> pd.DataFrame:
        """The tidy frame (see `labelbook.annotations`) or its wide form; `since`: later responses only."""
        import labelbook.annotations as tidy

        records = [record for page in self._pages(since) for record in page]
        out = self._rows(fields, metadata, since).frame(records)
        return tidy.wide(out) if wide else out

    def _pages(self, since: datetime | str | None) -> Iterator[list[dict[str, Any]]]:
        """The records a page at a time; with `since`, only those answered after it where the server can
        say so (the embedded server), else all (the responses are filtered locally either way)."""
        answered_since = None
        if since is not None:
            import pandas as pd

            stamp = pd.Timestamp(since)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            answered_since = stamp.floor("us").isoformat()  # a bound no later than `since`: a superset
        pages = _api.record_pages(
            self.connection,
            self.state.dataset_id,
            responses=True,
            doing="pulling records",
            answered_since=answered_since,
        )
        return cast(Iterator[list[dict[str, Any]]], pages)

    def pull(
        self,
        path: str | os.PathLike[str],
        *,
        since: datetime | str | None = None,
        rows_per_group: int = 30_000,
    ) -> int:
        """Write the tidy frame to .parquet, .csv or .jsonl as it comes, a few pages of records at a time;
        the number of rows written.

        The file is the one `labelbook.annotations.write(project.annotations(since=since), path)` writes,
        but memory stays bounded by `rows_per_group` (a parquet row group) and two pages of records,
        whatever the size of the dataset. Written to a temp file renamed at the end.
        """
        import pyarrow as pa

        import labelbook.annotations as tidy

        rows = self._rows(False, False, since)
        pages = self._pages(since)

        def chunks() -> Iterator[pd.DataFrame]:
            held: list[dict[str, Any]] = []
            answers = 0
            per_response = max(len(rows.kinds), 1)
            for page in pages:
                for record in page:
                    held.append(record)
                    answers += len(record.get("responses") or ()) * per_response
                    if answers >= rows_per_group:
                        yield rows.frame(held)
                        held, answers = [], 0
            yield rows.frame(held)

        lists = any(kind in ("multi_label", "ranking") for kind in rows.kinds.values())
        types = {"value": pa.string(), "release": pa.string(), "vendor": pa.string()}
        if lists:
            types["value_list"] = pa.list_(pa.string())
        _, written = tidy.write_chunks(chunks(), path, empty=rows.frame([]), types=types)
        return written

    def report(self, *, guide: Any = None, **options: Any) -> Any:
        """The disagreement report (`labelbook.quality.report`) of this project: the pulled answers,
        the guide as the notebook holds it now, the gold answers and the roster's rates."""
        import pandas as pd

        from labelbook.notebook import load
        from labelbook.quality import report

        roster = pd.DataFrame(
            [{"username": a.username, "vendor": a.vendor, "rate": a.rate} for a in self.state.roster],
            columns=["username", "vendor", "rate"],
        )
        options.setdefault("rates", roster if roster["rate"].notna().any() else None)
        options.setdefault("record_url", self.url)
        options.setdefault("dataset_url", self.url)
        return report(
            self.annotations(),
            guide=guide if guide is not None else load(self.notebook),
            gold=self.gold_status(),
            **options,
        )

    def gold_status(self) -> pd.DataFrame:
        """`gold()` with `live` (still hidden gold) and `retired_at` (when it was first shown to a
        contractor in feedback; it scores only the answers given before)."""
        import pandas as pd

        from labelbook.quality import read_retired

        gold = self.gold()
        retired = read_retired(state_dir(store_path(self.notebook)))
        stamps = gold["record_id"].map(lambda rid: (retired.get(str(rid)) or {}).get("retired_at"))
        gold["retired_at"] = pd.to_datetime(stamps, utc=True, format="ISO8601")
        gold["live"] = gold["retired_at"].isna()
        return gold

    def retire_gold(self, record_ids: Any, annotator: str) -> None:
        """Mark gold items as shown to `annotator` (in feedback): no longer hidden gold from now on."""
        from labelbook.quality import retire

        retire(state_dir(store_path(self.notebook)), record_ids, annotator)
