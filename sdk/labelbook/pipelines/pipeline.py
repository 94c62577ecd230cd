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
neither calls a step again for a logged item nor moves an item twice (see `labelbook.pipelines.run`).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelbook.pipelines.lineage import LineageIndex
from labelbook.pipelines.log import Log
from labelbook.pipelines.nodes import Item, PipelineError, RunResult, Stage, Step, source_hash
from labelbook.pipelines.routing import Demote, Qualify, Rule, Separate, split_teams

if TYPE_CHECKING:
    import pandas as pd

    from labelbook.argilla import Connection, Project, PublishResult
    from labelbook.argilla.state import ProjectState
    from labelbook.task import Task


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
        made = Step(self, name, after, run, when, version or source_hash(run))
        self.nodes[name] = made
        return made

    def route(self, *rules: Rule) -> None:
        """Add routing rules (Qualify, Demote, Separate, Cap); they are applied at every run."""
        self.rules.extend(rules)

    @property
    def stages(self) -> list[str]:
        """The stages' names, in declaration order."""
        return [n for n, node in self.nodes.items() if isinstance(node, Stage)]

    def _stage(self, stage: Stage | str) -> Stage:
        found = self.nodes.get(stage if isinstance(stage, str) else stage.name)
        if not isinstance(found, Stage):
            raise PipelineError(
                f"pipeline {self.name!r} has no stage {stage!r}; stages: {', '.join(self.stages)}."
            )
        return found

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
            {"event": "route", "worker": worker, "action": action, "target": team, "reason": reason}
            | {"rule": "assign"}
        )

    def stage_roster(self, stage: Stage, excluded: set[str]) -> list[dict[str, Any]] | None:
        """The roster the stage is published with: its team now, less who routing keeps out."""
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

    def decisions(self) -> list[dict[str, Any]]:
        """Every routing decision in the log, oldest first."""
        return list(self.log.events("route"))

    # The server.

    @property
    def connection(self) -> Connection:
        """The connection every stage is published and pulled with (made on first use)."""
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
        """Close the log and the connection."""
        self.log.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _state(self, stage: Stage) -> ProjectState | None:
        """The stage's project.json, once it has been published."""
        from labelbook.argilla.state import ProjectState, state_dir
        from labelbook.releases import store_path

        return ProjectState.read(state_dir(store_path(stage.guide)))

    def published(self, stage: Stage) -> bool:
        """Whether the stage has been published (its project.json exists)."""
        return self._state(stage) is not None

    def project(self, stage: Stage | str) -> Project:
        """The stage's published project (after the first run)."""
        from labelbook.argilla import Project

        stage = self._stage(stage)
        state = self._state(stage)
        if state is None:
            raise PipelineError(f"stage {stage.name!r} is not published yet; run the pipeline first.")
        return Project(stage.guide, state, self.connection)

    def items(self, stage: Stage | str) -> list[tuple[dict[str, Any], str]]:
        """The stage's records as the server has them (fields, responses, status), with their ids."""
        from labelbook.pipelines.items import pull

        return pull(self.project(stage))

    def usernames(self) -> dict[str, str]:
        """user id → username, on the pipeline's server."""
        from labelbook.argilla.roster import usernames

        return usernames(self.connection)

    def settings_of(self, stage: Stage, roster: list[dict[str, Any]] | None) -> str:
        """What a publish without records would change: the release, the team's roster, the overlap."""
        from labelbook.releases import latest_release

        release = latest_release(stage.guide)
        people = sorted((str(r["username"]), str(r["vendor"]), str(r["rate"])) for r in roster or [])
        return json.dumps([str(release.version) if release else None, people, stage.overlap, stage.team])

    def publish_stage(
        self, stage: Stage, rows: list[dict[str, Any]] | None, roster: list[dict[str, Any]] | None
    ) -> PublishResult:
        """Publish the stage's latest release with these new rows and roster; what publish did."""
        from labelbook.argilla import publish

        task = self._task(stage)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # routing decides the roster; its notes are in the log
            project = publish(
                stage.guide,
                records=rows,
                workspace=stage.dataset,
                dataset=stage.dataset,
                annotators=roster,
                gold=self._gold_for(stage, rows),
                progress=self.progress,
                connection=self.connection,
            )
        if stage.overlap is not None and stage.overlap != task.overlap:
            from labelbook.argilla.dataset import set_overlap

            set_overlap(
                self.connection,
                project.state.dataset_id,
                stage.overlap,
                doing=f"setting the overlap of stage {stage.name!r}",
            )
        assert project.last_publish is not None  # publish says what it did
        return project.last_publish

    def _gold_for(self, stage: Stage, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """The stage's gold answers for the records sent now (publish checks them against those)."""
        if stage.gold is None or not rows:
            return None
        from labelbook.argilla.records import read_rows

        sent = {str(r.get("id")) for r in rows}
        mine = [g for g in read_rows(stage.gold, "gold")[0] if str(g.get("id")) in sent]
        return mine or None

    # Running.

    def run(self, *, snapshot: bool = True) -> RunResult:
        """One pass: route, then for every stage in order publish what is new for it (see
        `labelbook.pipelines.run`). `snapshot`: then measure every stage's quality and throughput
        for `status()`."""
        from labelbook.pipelines.run import Pass

        result = RunResult()
        excluded = self._route(result)
        done = Pass(self, result, excluded)
        done.run()
        if snapshot:
            self._snapshot(done.pulled, done.names)
        return result

    def watch(
        self,
        interval: float = 10.0,
        *,
        on_pass: Callable[[RunResult], None] | None = None,
        on_start: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> RunResult:
        """Keep running passes until `stop` is set or Ctrl-C: at once when a record of a stage is
        complete (a webhook, on a server on this machine) and every `interval` seconds regardless
        (see `labelbook.pipelines.watch`). The last pass's result."""
        from labelbook.pipelines.watch import watch

        return watch(self, interval, on_pass=on_pass, on_start=on_start, stop=stop)

    def dataset_ids(self) -> set[str]:
        """The ids of the stages' datasets published so far."""
        states = (self._state(node) for node in self.nodes.values() if isinstance(node, Stage))
        return {state.dataset_id for state in states if state is not None}

    def _snapshot(self, pulled: dict[str, Any], names: dict[str, str]) -> None:
        from labelbook.pipelines.items import in_progress, pull
        from labelbook.pipelines.status import measure, write_snapshot

        numbers = {}
        for name in self.stages:
            stage = self._stage(name)
            project = self.project(stage)
            records = pulled[name] if name in pulled else pull(project)
            kinds = {q.name: q.kind for q in self._task(stage).questions}
            numbers[name] = {
                **measure([r for r, _ in records], names, project.gold(), kinds),
                "in_progress": in_progress(records),
            }
        write_snapshot(self.folder, numbers)

    def status(self) -> pd.DataFrame:
        """Per stage: records, waiting, in progress, done (live), queued (finished upstream, not yet
        moved in), done per hour over the last day, agreement and gold accuracy (from the last run)."""
        import pandas as pd

        from labelbook.pipelines.run import read_made, read_moved
        from labelbook.pipelines.status import COLUMNS, QUALITY, read_snapshot

        snap = read_snapshot(self.folder)
        made, moved = read_made(self.log.events("made")), read_moved(self.log.events("moved"))
        live: dict[str, dict[str, int]] = {}
        rows = []
        for name in self.stages:
            stage = self._stage(name)
            live[name] = self._progress(stage)
            counts, numbers = live[name], snap.get(name, {})
            in_progress = min(int(numbers.get("in_progress") or 0), int(counts["pending"]))
            queued = 0
            if stage.feed is not None:
                upstream = stage.source if isinstance(stage.source, Stage) else stage.source.after
                produced = made.get(stage.feed, {})
                have = moved.get(name, set())
                waiting_made = sum(1 for e in produced.values() for r in e["records"] if r["id"] not in have)
                finished_upstream = int(live.get(upstream.name, {}).get("completed", 0))
                queued = max(0, finished_upstream - len(produced)) + waiting_made
            rows.append(
                {
                    "stage": name,
                    "team": stage.team,
                    "records": int(counts["total"]),
                    "waiting": int(counts["pending"]) - in_progress,
                    "in_progress": in_progress,
                    "done": int(counts["completed"]),
                    "queued": queued,
                    **{k: numbers.get(k) for k in QUALITY},
                }
            )
        return pd.DataFrame(rows, columns=COLUMNS)

    def _progress(self, stage: Stage) -> dict[str, int]:
        """argilla-server's progress counters of the stage's dataset (total, completed, pending)."""
        if not self.published(stage):
            return {"total": 0, "completed": 0, "pending": 0}
        return self.project(stage).progress()

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
                frames[name], golds[name] = self._answers_and_gold(name)
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

    def _answers_and_gold(self, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A stage's tidy frame and gold answers (empty ones before it is published)."""
        try:
            project = self.project(name)
        except PipelineError:
            import pandas as pd

            empty = pd.DataFrame(columns=["record_id", "annotator", "question", "value", "status"])
            return empty, pd.DataFrame(columns=["record_id", "question", "value"])
        return project.annotations(), project.gold()

    # Reading back.

    def annotations(self, stage: Stage | str, **options: Any) -> pd.DataFrame:
        """The stage's tidy frame (`Project.annotations`) with a `lineage` column (JSON text)."""
        name = self._stage(stage).name
        frame = self.project(name).annotations(**options)
        index = self._lineage_index()
        memo: dict[str, str] = {}

        def text(rid: str) -> str:
            if rid not in memo:
                memo[rid] = json.dumps(index.trace(rid, name), ensure_ascii=False, default=str)
            return memo[rid]

        frame["lineage"] = frame["record_id"].map(text) if len(frame) else []
        return frame

    def lineage(self, record_id: str, *, stage: str | None = None) -> dict[str, Any]:
        """Where a record came from: its stage, the item and answers (with annotators) it was made
        from, the step and its version, and the same for that item, back to the source record.
        `stage`: which stage's record, when the id is in several (a stage fed by a stage keeps ids)."""
        index = self._lineage_index()
        return index.trace(record_id, stage if stage is not None else index.stage_of(record_id))

    def _lineage_index(self) -> LineageIndex:
        steps = [n for n, node in self.nodes.items() if isinstance(node, Step)]
        return LineageIndex.read(self.log.events("moved", "made"), steps)

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
        `csv`: also write it there (atomically)."""
        from labelbook.pipelines.pay import ledger, write_csv

        frames, golds = {}, {}
        for name in self.stages:
            if self.published(self._stage(name)):
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
            write_csv(table, csv)
        return table
