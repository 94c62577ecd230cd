"""The Argilla adapter: the only part of labelbook that imports argilla.

    project = labelbook.publish("guide.ipynb", records="records.jsonl", annotators="roster.csv")
    project.last_publish                       # what the publish did (PublishResult)
    annotations = project.annotations()        # the tidy frame, see labelbook.annotations
    project = labelbook.Project.open("guide.ipynb")   # the same project, later

Modules: `settings` (Task → the SDK's fields, questions, metadata), `records` (reading, ids,
validation), `inputs` (every input of a publish checked together), `publish` (the steps, in order),
`dataset` (create, claim or update the dataset), `upload` (the records' bulk upsert), `roster`,
`project` (reconnect and pull), `state` (what is kept beside the notebook, the publish lock),
`ownership` (the project's mark on its dataset), `gold` (gold kept indistinguishable), `_client`
(the connection: the argilla SDK's client, and the one place argilla's and httpx's errors become
BackendError), `_api` (the raw HTTP calls kept where the SDK falls short, each saying why).
"""

from __future__ import annotations

from labelbook.argilla._client import Connection, connect
from labelbook.argilla.ownership import ProjectConflict
from labelbook.argilla.project import Project
from labelbook.argilla.publish import publish
from labelbook.argilla.result import PublishResult
from labelbook.argilla.roster import RosterChanges, RosterWarning
from labelbook.argilla.state import PublishLocked

__all__ = [
    "Connection",
    "Project",
    "ProjectConflict",
    "PublishLocked",
    "PublishResult",
    "RosterChanges",
    "RosterWarning",
    "connect",
    "publish",
]
