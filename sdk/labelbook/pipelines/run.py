"""One pass of `Pipeline.run()`: route, then every node in declaration order.

A step calls its function on the finished items of its stage it has not made records from yet;
what it returns is written to the log (`made`) before anything is published, so after a crash it
is not called again for that item. A stage gathers what is new for it (source rows not moved in
yet, or what its upstream step or stage made and was not moved in), publishes it, and writes a
`moved` line. Publishing is skipped when there is nothing new and the release, team and overlap
are those published last.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from labelbook.pipelines.items import Pulled, finished, pull
from labelbook.pipelines.log import Log
from labelbook.pipelines.nodes import Failure, Item, PipelineError, RunResult, Stage, Step

if TYPE_CHECKING:
    from labelbook.argilla import Project, PublishResult


class Pipeline(Protocol):
    """What a pass uses of `labelbook.pipelines.Pipeline` (which imports this module)."""

    retries: int
    backoff: float
    log: Log
    nodes: dict[str, Stage | Step]

    def usernames(self) -> dict[str, str]: ...
    def project(self, stage: Stage | str) -> Project: ...
    def published(self, stage: Stage) -> bool: ...
    def stage_roster(self, stage: Stage, excluded: set[str]) -> list[dict[str, Any]] | None: ...
    def settings_of(self, stage: Stage, roster: list[dict[str, Any]] | None) -> str: ...
    def publish_stage(
        self, stage: Stage, rows: list[dict[str, Any]] | None, roster: list[dict[str, Any]] | None
    ) -> PublishResult: ...


Made = dict[str, dict[str, dict[str, Any]]]
"""producer (a step, or `<stage>><stage>`) → item id → its `made` line (the latest)."""


def read_made(events: Any) -> Made:
    """The `made` lines of the log, by producer and item."""
    out: Made = {}
    for event in events:
        out.setdefault(event["node"], {})[event["item"]] = event
    return out


def read_moved(events: Any) -> dict[str, set[str]]:
    """stage → the ids moved into it (the log's `moved` lines)."""
    out: dict[str, set[str]] = {}
    for event in events:
        out.setdefault(event["stage"], set()).update(event["ids"])
    return out


def call_step(pipe: Pipeline, step: Step, item: Item, result: RunResult) -> list[dict[str, Any]] | None:
    """The step's records for the item (`{"id", "row"}` each), retried with backoff; None (and a
    `failed` line) when every attempt raised."""
    error: BaseException | None = None
    for attempt in range(pipe.retries + 1):
        try:
            out = step.run(item)
            break
        except Exception as err:  # any error of the user's function: retried, then listed
            error = err
            if attempt < pipe.retries:
                time.sleep(pipe.backoff * 2**attempt)
    else:
        failure = Failure(step.name, item.id, f"{type(error).__name__}: {error}", pipe.retries + 1)
        result.failures.append(failure)
        pipe.log.append(
            {"event": "failed", "step": step.name, "item": item.id, "error": failure.error}
            | {"attempts": failure.attempts}
        )
        return None
    rows = [] if out is None else [out] if isinstance(out, Mapping) else list(out)
    records = []
    for number, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise PipelineError(
                f"step {step.name!r} returned {type(row).__name__} for item {item.id!r}; "
                "return a dict of field values, a list of them, or None."
            )
        row = dict(row)
        suffix = f"~{number}" if len(rows) > 1 else ""
        rid = str(row.pop("id", None) or f"{item.id}~{step.name}{suffix}")
        records.append({"id": rid, "row": row})
    return records


class Pass:
    """The state of one run: what the log says was made and moved, and what was pulled now."""

    def __init__(self, pipe: Pipeline, result: RunResult, excluded: dict[str, set[str]]) -> None:
        self.pipe = pipe
        self.result = result
        self.excluded = excluded
        """stage → workers routing keeps out of it."""
        self.names = pipe.usernames()
        self.made = read_made(pipe.log.events("made"))
        self.moved = read_moved(pipe.log.events("moved"))
        self.settings = {e["stage"]: e["settings"] for e in pipe.log.events("settings")}
        self.pulled: dict[str, Pulled] = {}
        """stage → its records, pulled once per pass (dropped when the stage got new records)."""
        self._finished: dict[str, list[Item]] = {}

    def run(self) -> None:
        for node in list(self.pipe.nodes.values()):
            if isinstance(node, Step):
                self.step(node)
            else:
                self.stage(node)

    def done(self, stage: Stage) -> list[Item]:
        """The stage's finished items (pulled on first use)."""
        if stage.name not in self._finished:
            self.pulled[stage.name] = pull(self.pipe.project(stage))
            self._finished[stage.name] = finished(self.pulled[stage.name], stage.name, self.names)
        return self._finished[stage.name]

    def _log_made(self, producer: str, item: Item, version: str | None, records: list[Any]) -> None:
        event: dict[str, Any] = {
            "event": "made",
            "node": producer,
            "item": item.id,
            "from": item.stage,
            "version": version,
            "answers": item.logged_answers(),
            "records": records,
        }
        self.pipe.log.append(event)
        self.made.setdefault(producer, {})[item.id] = event

    def step(self, step: Step) -> None:
        """Call the step on every finished item of its stage it has not made records from."""
        if not self.pipe.published(step.after):
            return
        mine = self.made.setdefault(step.name, {})
        for item in self.done(step.after):
            if item.id in mine or (step.when is not None and not step.when(item)):
                continue
            records = call_step(self.pipe, step, item, self.result)
            if records is None:
                continue
            self._log_made(step.name, item, step.version, records)
            self.result.made[step.name] = self.result.made.get(step.name, 0) + 1

    def upstream_rows(self, stage: Stage) -> list[dict[str, Any]]:
        """What the stage's upstream stage or step made that was not moved into it yet."""
        source, key = stage.source, stage.feed
        assert key is not None
        if isinstance(source, Stage) and self.pipe.published(source):
            mine = self.made.setdefault(key, {})
            for item in self.done(source):
                if item.id not in mine and (stage.when is None or stage.when(item)):
                    self._log_made(key, item, None, [{"id": item.id, "row": item.fields}])
        have = self.moved.get(stage.name, set())
        rows = []
        for event in self.made.get(key, {}).values():
            for record in event["records"]:
                if record["id"] in have:
                    continue
                # A stage fed by a stage applied `when` to the item, with its answers, above.
                when = stage.when if isinstance(source, Step) else None
                if when is not None and not when(Item(record["id"], source.name, record["row"])):
                    continue
                rows.append({**record["row"], "id": record["id"]})
        return rows

    def source_rows(self, stage: Stage) -> list[dict[str, Any]]:
        """The stage's own records (or its sampler's) that were not moved into it yet."""
        from labelbook.argilla.records import read_rows

        source = stage.source
        given = [dict(r) for r in source()] if callable(source) else read_rows(source, "records")[0]
        # Rows with an id published before are not sent again (publish would skip them anyway,
        # after reading them all); rows without one are always sent and deduplicated by publish.
        have = self.moved.get(stage.name, set())
        return [r for r in given if r.get("id") is None or str(r["id"]) not in have]

    def stage(self, stage: Stage) -> None:
        """Publish what is new for the stage (or only its settings, when those changed)."""
        rows: list[dict[str, Any]] | None = None
        if stage.feed is not None:
            rows = self.upstream_rows(stage)
        elif stage.source is not None:
            rows = self.source_rows(stage)
        roster = self.pipe.stage_roster(stage, self.excluded.get(stage.name, set()))
        settings = self.pipe.settings_of(stage, roster)
        unchanged = settings == self.settings.get(stage.name)
        if not rows and unchanged and self.pipe.published(stage):
            self.result.published[stage.name] = 0  # nothing new, same release, team and overlap
            return
        published = self.pipe.publish_stage(stage, rows or None, roster)
        added = published.records_added
        if not unchanged:
            self.pipe.log.append({"event": "settings", "stage": stage.name, "settings": settings})
        if rows:
            # Gold records publish held back (too few regular records to sit among) are sent again.
            waiting = set(published.gold_held_back)
            ids = [str(r["id"]) for r in rows if r.get("id") is not None and str(r["id"]) not in waiting]
            origin = stage.source.name if isinstance(stage.source, Stage | Step) else None
            if ids:
                self.pipe.log.append({"event": "moved", "stage": stage.name, "from": origin, "ids": ids})
                self.moved.setdefault(stage.name, set()).update(ids)
        self.result.published[stage.name] = added
        if added:
            self.pulled.pop(stage.name, None)  # measured after its new records, by the snapshot
