"""`Pipeline`: stages (labelbook tasks, each its own dataset) and steps (Python callables) chained
by their sources, moved along by `run()`, one idempotent pass at a time.

    pipe = lb.Pipeline("book-qa", roster="roster.csv")
    answer = pipe.stage("answer", guide="answer.ipynb", source=passages, team="writers", overlap=3)
    draft = pipe.step("draft", after=answer, run=summarise)
    review = pipe.stage("review", guide="review.ipynb", source=draft, team="reviewers", overlap=1)
    pipe.run()

Exactly once: a downstream record's id is derived from the item it was made from, the server skips
ids it has (so a publish cut short and repeated adds nothing), and the log beside the pipeline
(`<name>.pipeline/log.jsonl`) keeps what every step produced and what was moved, so a restart
neither calls a step again for a logged item nor moves an item twice.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.errors import LabelbookError
from labelbook.pipelines.log import Log
from labelbook.pipelines.routing import Decision, Demote, Qualify, Rule, Separate, split_teams

if TYPE_CHECKING:
    import pandas as pd

    from labelbook.argilla import Connection, Project
    from labelbook.task import Task

PAGE = 1000


class PipelineError(LabelbookError):
    """A pipeline declared or run wrongly: names the stage or step and what to change."""


@dataclass(frozen=True)
class Answer:
    """One worker's submitted answer to an item."""

    annotator: str
    """Their username (kept locally; never shown to later stages' workers)."""
    values: dict[str, Any]
    """question → value."""
    submitted_at: str
    """When it was saved, UTC."""


@dataclass(frozen=True)
class Item:
    """A finished item handed to a step or a `when=` condition."""

    id: str
    """The record's id in its stage."""
    stage: str
    """The stage (or step) it comes from."""
    fields: dict[str, Any]
    """Its field values."""
    answers: list[Answer] = field(default_factory=list)
    """The submitted answers it gathered (empty for a step's output)."""

    def values(self, question: str) -> list[Any]:
        """Every answer's value for `question`."""
        return [a.values[question] for a in self.answers if question in a.values]

    @property
    def agree(self) -> bool:
        """Whether every question got one value from everyone."""
        names = {q for a in self.answers for q in a.values}
        return all(len({repr(v) for v in self.values(q)}) <= 1 for q in names)


@dataclass(eq=False)
class Stage:
    """A labelbook task published as its own dataset in its own workspace."""

    pipeline: Pipeline = field(repr=False)
    name: str
    """Stage name; the dataset and workspace are `<pipeline>-<stage>`."""
    guide: Path
    """The guide notebook (its latest release is published)."""
    source: Any = None
    """Records, a callable sampler, or an earlier Stage or Step."""
    team: str | None = None
    """The team working in it (None: the workspace's members are left as they are)."""
    overlap: int | None = None
    """Answers per record (default: the task's)."""
    when: Callable[[Item], bool] | None = field(default=None, repr=False)
    """Only upstream items for which this is true."""
    gold: Any = field(default=None, repr=False)
    """Expert answers for gold records (kept locally by publish)."""

    @property
    def dataset(self) -> str:
        return f"{self.pipeline.name}-{self.name}"


@dataclass(eq=False)
class Step:
    """A function from a finished item to new records (a dict, a list of dicts, or None)."""

    pipeline: Pipeline = field(repr=False)
    name: str
    after: Stage
    """The stage whose finished items it takes."""
    run: Callable[[Item], Any] = field(repr=False)
    when: Callable[[Item], bool] | None = field(default=None, repr=False)
    version: str = ""
    """Recorded in every output's lineage: given, or a hash of the function's source."""


@dataclass(frozen=True)
class Failure:
    """A step that raised on an item after every retry."""

    step: str
    item: str
    error: str
    attempts: int


@dataclass
class RunResult:
    """What one `run()` did."""

    published: dict[str, int] = field(default_factory=dict)
    """stage → records added to its dataset now."""
    made: dict[str, int] = field(default_factory=dict)
    """step → items it turned into records now."""
    failures: list[Failure] = field(default_factory=list)
    """Steps that raised on every attempt (those items are tried again next run)."""
    decisions: list[Decision] = field(default_factory=list)
    """Routing decisions taken now."""


def _source_hash(run: Callable[..., Any]) -> str:
    try:
        text = inspect.getsource(run)
    except (OSError, TypeError):
        text = getattr(run, "__qualname__", repr(run))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Pipeline:
    """Stages and steps, their teams and routing rules, and the log of what was done."""

    def __init__(
        self,
        name: str,
        *,
        roster: Any = None,
        folder: str | os.PathLike[str] | None = None,
        rules: Iterable[Rule] = (),
        retries: int = 3,
        backoff: float = 1.0,
        api_url: str | None = None,
        api_key: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> None:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise PipelineError(f"pipeline name {name!r}: use letters, digits, '-' and '_'.")
        self.name = name
        self.folder = Path(folder) if folder is not None else Path.cwd() / f"{name}.pipeline"
        """Where the log lives (beside the pipeline's notebook by default)."""
        self.log = Log(self.folder / "log.jsonl")
        self.roster = roster
        """The people: `username`, `vendor`, `rate`, `team`/`teams` (a file or a table)."""
        self.rules: list[Rule] = list(rules)
        self.retries, self.backoff, self.progress = retries, backoff, progress
        self._connect: dict[str, Any] = {"api_url": api_url, "api_key": api_key, "data_dir": data_dir}
        self._connection: Connection | None = None
        self.nodes: dict[str, Stage | Step] = {}

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, nodes={list(self.nodes)}, folder={str(self.folder)!r})"

    # Declaring.

    def _new_name(self, name: str) -> None:
        if name in self.nodes:
            raise PipelineError(
                f"pipeline {self.name!r}: {name!r} is declared twice; give each stage and step its own name."
            )

    def stage(
        self,
        name: str,
        *,
        guide: str | os.PathLike[str],
        source: Any = None,
        team: str | None = None,
        overlap: int | None = None,
        when: Callable[[Item], bool] | None = None,
        gold: Any = None,
    ) -> Stage:
        """Declare a stage: a task of its own (guide, releases, overlap) fed from `source`."""
        self._new_name(name)
        path = Path(guide).resolve()
        if not path.exists():
            raise PipelineError(f"stage {name!r}: guide {guide} does not exist.")
        for other in self.nodes.values():
            if isinstance(other, Stage) and other.guide == path:
                raise PipelineError(
                    f"stage {name!r}: guide {guide} is already the guide of stage {other.name!r}; each stage "
                    "keeps its project beside its own guide, so give it a guide notebook of its own."
                )
        if isinstance(source, Stage | Step) and source.pipeline is not self:
            raise PipelineError(f"stage {name!r}: its source belongs to another pipeline.")
        made = Stage(self, name, path, source, team, overlap, when, gold)
        self.nodes[name] = made
        return made

    def step(
        self,
        name: str,
        *,
        after: Stage,
        run: Callable[[Item], Any],
        when: Callable[[Item], bool] | None = None,
        version: str | None = None,
    ) -> Step:
        """Declare a step: `run(item)` on every finished item of `after` (where `when(item)`)."""
        self._new_name(name)
        if not isinstance(after, Stage) or after.pipeline is not self:
            raise PipelineError(f"step {name!r}: after= must be a stage of this pipeline.")
        made = Step(self, name, after, run, when, version or _source_hash(run))
        self.nodes[name] = made
        return made

    def route(self, *rules: Rule) -> None:
        """Add routing rules (Qualify, Demote, Separate, Cap); they are applied at every run."""
        self.rules.extend(rules)

    # Teams.

    def _roster_rows(self) -> list[dict[str, Any]]:
        if self.roster is None:
            return []
        from labelbook.argilla.records import read_rows

        rows, _, _ = read_rows(self.roster, "roster")
        return [{str(k).strip().lower(): v for k, v in row.items()} for row in rows]

    def teams(self) -> dict[str, set[str]]:
        """team → usernames: the roster's teams, then every join and leave in the log, in order."""
        out: dict[str, set[str]] = {}
        for row in self._roster_rows():
            for team in split_teams(row.get("teams", row.get("team"))):
                out.setdefault(team, set()).add(str(row["username"]).strip())
        for event in self.log.events("route"):
            if event["action"] == "join":
                out.setdefault(event["target"], set()).add(event["worker"])
            elif event["action"] == "leave":
                out.get(event["target"], set()).discard(event["worker"])
        return out

    def assign(self, worker: str, team: str, *, reason: str = "assigned by hand") -> None:
        """Put a roster worker in a team (effective at the next run); logged."""
        self._move(worker, team, "join", reason)

    def unassign(self, worker: str, team: str, *, reason: str = "taken out by hand") -> None:
        """Take a worker out of a team (effective at the next run); logged."""
        self._move(worker, team, "leave", reason)

    def _move(self, worker: str, team: str, action: str, reason: str) -> None:
        known = {str(r["username"]).strip() for r in self._roster_rows()}
        if worker not in known:
            raise PipelineError(f"{worker!r} is not on the pipeline's roster; add them to it first.")
        self.log.append(
            {
                "event": "route",
                "worker": worker,
                "action": action,
                "target": team,
                "reason": reason,
                "rule": "assign",
            }
        )

    # The server.

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            from labelbook.argilla import connect

            self._connection = connect(
                self._connect["api_url"],
                self._connect["api_key"],
                data_dir=self._connect["data_dir"],
                purpose="run the pipeline on",
            )
        return self._connection

    def close(self) -> None:
        """Close the connection."""
        self.log.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def project(self, stage: Stage | str) -> Project:
        """The stage's published project (after the first run)."""
        from labelbook.argilla import Project
        from labelbook.argilla.state import ProjectState, state_dir
        from labelbook.releases import store_path

        stage = self._stage(stage)
        state = ProjectState.read(state_dir(store_path(stage.guide)))
        if state is None:
            raise PipelineError(f"stage {stage.name!r} is not published yet; run the pipeline first.")
        return Project(stage.guide, state, self.connection)

    def _stage(self, stage: Stage | str) -> Stage:
        found = self.nodes.get(stage if isinstance(stage, str) else stage.name)
        if not isinstance(found, Stage):
            raise PipelineError(
                f"pipeline {self.name!r} has no stage {stage!r}; stages: {', '.join(self.stages)}."
            )
        return found

    @property
    def stages(self) -> list[str]:
        return [n for n, node in self.nodes.items() if isinstance(node, Stage)]

    def _task(self, stage: Stage) -> Task:
        from labelbook.releases import latest_release
        from labelbook.task import Task

        release = latest_release(stage.guide)
        if release is None:
            raise PipelineError(
                f"stage {stage.name!r}: {stage.guide} has no release; "
                f"run `labelbook release {stage.guide} -m MESSAGE`."
            )
        return Task.from_json(release.text("task.json"), source=str(release.path / "task.json"))

    def items(self, stage: Stage | str) -> list[tuple[dict[str, Any], str]]:
        """The stage's records as the server has them (fields, responses, status), with their ids."""
        stage = self._stage(stage)
        project = self.project(stage)
        path = f"/api/v1/datasets/{project.state.dataset_id}/records"

        def page(offset: int) -> tuple[list[dict[str, Any]], int]:
            reply = self.connection.request(
                "GET",
                path,
                params={"include": "responses", "offset": offset, "limit": PAGE},
                doing=f"pulling stage {stage.name!r}",
            )
            return list(reply["items"]), int(reply.get("total") or 0)

        first, total = page(0)
        out = list(first)
        if len(first) == PAGE:
            with ThreadPoolExecutor(max_workers=2) as pool:
                for items, _ in pool.map(page, range(PAGE, max(total, PAGE), PAGE)):
                    out.extend(items)
        return [(r, r.get("external_id") or r["id"]) for r in out]

    def _finished(
        self, pulled: list[tuple[dict[str, Any], str]], stage: Stage, names: Mapping[str, str]
    ) -> list[Item]:
        items = []
        for record, rid in pulled:
            if record.get("status") != "completed":
                continue
            answers = [
                Answer(
                    names.get(r["user_id"], r["user_id"]),
                    {q: v.get("value") for q, v in (r.get("values") or {}).items()},
                    r["updated_at"],
                )
                for r in record.get("responses") or ()
                if r["status"] == "submitted"
            ]
            items.append(Item(rid, stage.name, dict(record["fields"]), answers))
        return items

    def _usernames(self) -> dict[str, str]:
        users = self.connection.request("GET", "/api/v1/users", doing="listing users")["items"]
        return {u["id"]: u["username"] for u in users}

    # Running.

    def _call(self, step: Step, item: Item, result: RunResult) -> list[dict[str, Any]] | None:
        error: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                out = step.run(item)
                break
            except Exception as err:  # any error of the user's function: retried, then listed
                error = err
                if attempt < self.retries:
                    time.sleep(self.backoff * 2**attempt)
        else:
            failure = Failure(step.name, item.id, f"{type(error).__name__}: {error}", self.retries + 1)
            result.failures.append(failure)
            self.log.append(
                {
                    "event": "failed",
                    "step": step.name,
                    "item": item.id,
                    "error": failure.error,
                    "attempts": failure.attempts,
                }
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
            rid = str(
                row.pop("id", None) or f"{item.id}~{step.name}" + (f"~{number}" if len(rows) > 1 else "")
            )
            records.append({"id": rid, "row": row})
        return records

    def _made(self) -> dict[str, dict[str, dict[str, Any]]]:
        """producer → item id → its `made` event (the latest)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for event in self.log.events("made"):
            out.setdefault(event["node"], {})[event["item"]] = event
        return out

    def _moved(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for event in self.log.events("moved"):
            out.setdefault(event["stage"], set()).update(event["ids"])
        return out

    def run(self, *, snapshot: bool = True) -> RunResult:
        """One pass: route, then for every stage in order publish what is new for it; see the module doc.
        `snapshot`: then measure every stage's quality and throughput for `status()`."""
        from labelbook.argilla import publish

        result = RunResult()
        names = self._usernames()
        finished: dict[str, list[Item]] = {}
        made = self._made()
        moved = self._moved()
        published_settings = {e["stage"]: e["settings"] for e in self.log.events("settings")}
        excluded = self._route(result)

        pulled: dict[str, list[tuple[dict[str, Any], str]]] = {}

        def done(stage: Stage) -> list[Item]:
            if stage.name not in finished:
                pulled[stage.name] = self.items(stage)
                finished[stage.name] = self._finished(pulled[stage.name], stage, names)
            return finished[stage.name]

        def answers_of(item: Item) -> list[dict[str, Any]]:
            return [
                {"annotator": a.annotator, "values": a.values, "submitted_at": a.submitted_at}
                for a in item.answers
            ]

        for node in list(self.nodes.values()):
            if isinstance(node, Step):
                if self._published(node.after):
                    mine = made.setdefault(node.name, {})
                    for item in done(node.after):
                        if item.id in mine or (node.when is not None and not node.when(item)):
                            continue
                        records = self._call(node, item, result)
                        if records is None:
                            continue
                        event: dict[str, Any] = {
                            "event": "made",
                            "node": node.name,
                            "item": item.id,
                            "from": node.after.name,
                            "version": node.version,
                            "answers": answers_of(item),
                            "records": records,
                        }
                        self.log.append(event)
                        mine[item.id] = event
                        result.made[node.name] = result.made.get(node.name, 0) + 1
                continue
            stage = node
            task = self._task(stage)
            rows: list[dict[str, Any]] | None = None
            source = stage.source
            if isinstance(source, Stage | Step):
                key = f"{source.name}>{stage.name}" if isinstance(source, Stage) else source.name
                if isinstance(source, Stage) and self._published(source):
                    mine = made.setdefault(key, {})
                    for item in done(source):
                        if item.id not in mine and (stage.when is None or stage.when(item)):
                            event = {
                                "event": "made",
                                "node": key,
                                "item": item.id,
                                "from": source.name,
                                "version": None,
                                "answers": answers_of(item),
                                "records": [{"id": item.id, "row": item.fields}],
                            }
                            self.log.append(event)
                            mine[item.id] = event
                have = moved.get(stage.name, set())
                rows = []
                for event in made.get(key, {}).values():
                    for record in event["records"]:
                        if record["id"] in have:
                            continue
                        if (
                            isinstance(source, Step)
                            and stage.when is not None
                            and not stage.when(Item(record["id"], source.name, record["row"]))
                        ):
                            continue
                        rows.append({**record["row"], "id": record["id"]})
            elif source is not None:
                from labelbook.argilla.records import read_rows

                given = [dict(r) for r in source()] if callable(source) else read_rows(source, "records")[0]
                # Rows with an id published before are not sent again (publish would skip them anyway,
                # after reading them all); rows without one are always sent and deduplicated by publish.
                have = moved.get(stage.name, set())
                rows = [r for r in given if r.get("id") is None or str(r["id"]) not in have]
            roster = self._stage_roster(stage, excluded.get(stage.name, set()))
            settings = self._settings(stage, roster)
            if not rows and settings == published_settings.get(stage.name) and self._published(stage):
                result.published[stage.name] = 0  # nothing new, same release, team and overlap
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # routing decides the roster; its notes are in the log
                published = publish(
                    stage.guide,
                    records=rows if rows else None,
                    workspace=stage.dataset,
                    dataset=stage.dataset,
                    annotators=roster,
                    gold=self._gold_for(stage, rows),
                    progress=self.progress,
                    connection=self.connection,
                )
            self._set_overlap(stage, task, published.dataset_id)
            if settings != published_settings.get(stage.name):
                self.log.append({"event": "settings", "stage": stage.name, "settings": settings})
            if rows:
                ids = [str(r["id"]) for r in rows if r.get("id") is not None]
                origin = source.name if isinstance(source, Stage | Step) else None
                if ids:
                    self.log.append({"event": "moved", "stage": stage.name, "from": origin, "ids": ids})
                    moved.setdefault(stage.name, set()).update(ids)
            result.published[stage.name] = published.records_added
            if published.records_added:
                pulled.pop(stage.name, None)  # measured after its new records, below
        if snapshot:
            self._snapshot(pulled, names)
        return result

    def _snapshot(self, pulled: dict[str, list[tuple[dict[str, Any], str]]], names: dict[str, str]) -> None:
        from labelbook.pipelines.status import measure, write_snapshot

        numbers = {}
        for name in self.stages:
            stage = self._stage(name)
            records = [r for r, _ in pulled[name]] if name in pulled else [r for r, _ in self.items(stage)]
            kinds = {q.name: q.kind for q in self._task(stage).questions}
            in_progress = sum(
                1
                for r in records
                if r.get("status") != "completed"
                and any(x["status"] == "submitted" for x in r.get("responses") or ())
            )
            numbers[name] = {
                **measure(records, names, self.project(stage).gold(), kinds),
                "in_progress": in_progress,
            }
        write_snapshot(self.folder, numbers)

    def status(self) -> pd.DataFrame:
        """Per stage: records, waiting, in progress, done (live), queued (finished upstream, not yet
        moved in), done per hour over the last day, agreement and gold accuracy (from the last run)."""
        import pandas as pd

        from labelbook.pipelines.status import COLUMNS, read_snapshot

        snap = read_snapshot(self.folder)
        made, moved = self._made(), self._moved()
        live: dict[str, dict[str, int]] = {}
        rows = []
        for name in self.stages:
            stage = self._stage(name)
            if not self._published(stage):
                live[name] = {"total": 0, "completed": 0, "pending": 0}
            else:
                dataset = self.project(stage).state.dataset_id
                live[name] = self.connection.request(
                    "GET", f"/api/v1/datasets/{dataset}/progress", doing=f"reading the progress of {name!r}"
                )
            counts, numbers = live[name], snap.get(name, {})
            in_progress = min(int(numbers.get("in_progress") or 0), int(counts["pending"]))
            source = stage.source
            queued = 0
            if isinstance(source, Stage | Step):
                upstream = source if isinstance(source, Stage) else source.after
                key = f"{source.name}>{name}" if isinstance(source, Stage) else source.name
                produced = made.get(key, {})
                have = moved.get(name, set())
                waiting_made = sum(1 for e in produced.values() for r in e["records"] if r["id"] not in have)
                queued = (
                    max(0, int(live.get(upstream.name, {}).get("completed", 0)) - len(produced))
                    + waiting_made
                )
            rows.append(
                {
                    "stage": name,
                    "team": stage.team,
                    "records": int(counts["total"]),
                    "waiting": int(counts["pending"]) - in_progress,
                    "in_progress": in_progress,
                    "done": int(counts["completed"]),
                    "queued": queued,
                    **{
                        k: numbers.get(k)
                        for k in (
                            "done_per_hour",
                            "agreement",
                            "gold_accuracy",
                            "gold_low",
                            "gold_high",
                            "quality_at",
                        )
                    },
                }
            )
        return pd.DataFrame(rows, columns=COLUMNS)

    def _settings(self, stage: Stage, roster: list[dict[str, Any]] | None) -> str:
        """What a publish without records would change: the release, the team's roster, the overlap."""
        import json

        from labelbook.releases import latest_release

        release = latest_release(stage.guide)
        people = sorted((str(r["username"]), str(r["vendor"]), str(r["rate"])) for r in roster or [])
        return json.dumps([str(release.version) if release else None, people, stage.overlap, stage.team])

    def _gold_for(self, stage: Stage, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The stage's gold answers for the records sent now (publish checks them against those)."""
        if stage.gold is None or not rows:
            return None
        from labelbook.argilla.records import read_rows

        sent = {str(r.get("id")) for r in rows}
        mine = [g for g in read_rows(stage.gold, "gold")[0] if str(g.get("id")) in sent]
        return mine or None

    def _published(self, stage: Stage) -> bool:
        from labelbook.argilla.state import ProjectState, state_dir
        from labelbook.releases import store_path

        return ProjectState.read(state_dir(store_path(stage.guide))) is not None

    def _set_overlap(self, stage: Stage, task: Task, dataset_id: str) -> None:
        if stage.overlap is None or stage.overlap == task.overlap:
            return
        self.connection.request(
            "PATCH",
            f"/api/v1/datasets/{dataset_id}",
            doing=f"setting the overlap of stage {stage.name!r}",
            json={"distribution": {"strategy": "overlap", "min_submitted": stage.overlap}},
        )

    def _stage_roster(self, stage: Stage, excluded: set[str]) -> list[dict[str, Any]] | None:
        if stage.team is None:
            return None
        members = self.teams().get(stage.team, set()) - excluded
        rows = [
            {
                "username": str(r["username"]).strip(),
                "vendor": str(r.get("vendor") or r.get("group") or "-"),
                "rate": r.get("rate"),
            }
            for r in self._roster_rows()
            if str(r["username"]).strip() in members
        ]
        if not rows:
            raise PipelineError(
                f"stage {stage.name!r}: team {stage.team!r} has nobody in it now; add people to the team "
                "in the roster or with pipe.assign(worker, team)."
            )
        return rows

    def annotations(self, stage: Stage | str, **options: Any) -> pd.DataFrame:
        """The stage's tidy frame (`Project.annotations`) with a `lineage` column (JSON text)."""
        import json

        name = self._stage(stage).name
        frame = self.project(name).annotations(**options)
        index = self._lineage_index()
        memo: dict[str, str] = {}

        def text(rid: str) -> str:
            if rid not in memo:
                memo[rid] = json.dumps(self._trace(rid, name, index), ensure_ascii=False, default=str)
            return memo[rid]

        frame["lineage"] = frame["record_id"].map(text) if len(frame) else []
        return frame

    def lineage(self, record_id: str, *, stage: str | None = None) -> dict[str, Any]:
        """Where a record came from: its stage, the item and answers (with annotators) it was made
        from, the step and its version, and the same for that item, back to the source record.
        `stage`: which stage's record, when the id is in several (a stage fed by a stage keeps ids)."""
        index = self._lineage_index()
        if stage is None:
            stages = [s for (s, rid) in index[0] if rid == record_id]
            stage = stages[-1] if stages else None
        return self._trace(record_id, stage, index)

    def _lineage_index(
        self,
    ) -> tuple[dict[tuple[str, str], str | None], dict[tuple[str, str], dict[str, Any]]]:
        moves: dict[tuple[str, str], str | None] = {}
        for event in self.log.events("moved"):
            for rid in event["ids"]:
                moves[(event["stage"], rid)] = event["from"]
        made: dict[tuple[str, str], dict[str, Any]] = {}
        for event in self.log.events("made"):
            for record in event["records"]:
                made[(event["node"], record["id"])] = event
        return moves, made

    def _trace(
        self,
        record_id: str,
        stage: str | None,
        index: tuple[dict[tuple[str, str], str | None], dict[tuple[str, str], dict[str, Any]]],
    ) -> dict[str, Any]:
        moves, made = index
        origin = moves.get((stage or "", record_id))
        if origin is None:  # a source record (or one the log does not know)
            return {"stage": stage, "id": record_id, "source": True}
        is_step = isinstance(self.nodes.get(origin), Step)
        event = made.get((origin if is_step else f"{origin}>{stage}", record_id))
        if event is None:
            return {"stage": stage, "id": record_id, "source": False}
        return {
            "stage": stage,
            "id": record_id,
            "step": origin if is_step else None,
            "version": event["version"],
            "made_from": {**self._trace(event["item"], event["from"], index), "answers": event["answers"]},
        }

    def ledger(
        self,
        *,
        period: str = "W",
        basis: str = "hour",
        bonuses: Iterable[Any] = (),
        idle_minutes: float = 10.0,
        csv: str | os.PathLike[str] | None = None,
    ) -> pd.DataFrame:
        """Pay per worker and period over every published stage (see `labelbook.pipelines.pay`);
        `csv`: also write it there."""
        from labelbook.pipelines.pay import ledger

        frames, golds = {}, {}
        for name in self.stages:
            if self._published(self._stage(name)):
                project = self.project(name)
                frames[name], golds[name] = project.annotations(), project.gold()
        table = ledger(
            frames,
            golds,
            self._roster_rows(),
            period=period,
            basis=basis,
            bonuses=bonuses,
            idle_minutes=idle_minutes,
        )
        if csv is not None:
            table.to_csv(csv, index=False)
        return table

    def decisions(self) -> list[dict[str, Any]]:
        """Every routing decision in the log, oldest first."""
        return list(self.log.events("route"))

    def _route(self, result: RunResult) -> dict[str, set[str]]:
        """Apply the rules: team changes are logged (once each), exclusions returned per stage."""
        excluded: dict[str, set[str]] = {}
        if not self.rules:
            return excluded
        frames: dict[str, pd.DataFrame] = {}
        golds: dict[str, pd.DataFrame] = {}
        seen = {(e["worker"], e["action"], e["target"], e.get("rule")) for e in self.log.events("route")}

        def frame(name: str) -> pd.DataFrame:
            if name not in frames:
                try:
                    project = self.project(name)
                except PipelineError:
                    import pandas as pd

                    frames[name] = pd.DataFrame(
                        columns=["record_id", "annotator", "question", "value", "status"]
                    )
                    golds[name] = pd.DataFrame(columns=["record_id", "question", "value"])
                else:
                    frames[name], golds[name] = project.annotations(), project.gold()
            return frames[name]

        for rule in self.rules:
            if isinstance(rule, Qualify | Demote):
                decided = rule.decide(frame(rule.stage), golds[rule.stage], self.teams())
            else:
                for name in {rule.first, rule.then} if isinstance(rule, Separate) else {rule.stage}:
                    frame(name)
                decided = rule.exclude(frames)
            for decision in decided:
                if decision.action == "exclude":
                    excluded.setdefault(decision.target, set()).add(decision.worker)
                key = (decision.worker, decision.action, decision.target, decision.rule)
                demoted = any(
                    k[0] == decision.worker and k[1] == "leave" and k[2] == decision.target for k in seen
                )
                if decision.action == "join" and demoted:
                    continue  # taken out on evidence: back only by hand (pipe.assign)
                if key in seen and decision.action in {"exclude", "stay-out"}:
                    continue
                seen.add(key)
                self.log.append({"event": "route", **decision.__dict__})
                result.decisions.append(decision)
        return excluded
