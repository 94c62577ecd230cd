"""What a publish did: `PublishResult`, returned as `Project.last_publish`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labelbook.argilla.roster import RosterChanges


@dataclass
class PublishResult:
    """What a publish did (no secrets in the repr; `roster.new_passwords` holds the new ones)."""

    url: str
    """The Argilla server."""
    workspace: str
    """Workspace name."""
    dataset: str
    """Dataset name."""
    dataset_id: str
    """Dataset id."""
    version: str
    """The release now live in the dataset."""
    created: bool = False
    """Whether the dataset was created by this publish."""
    deployed: bool = False
    """Whether this publish changed the live release (a line was added to the deployment log)."""
    records_added: int = 0
    """Records uploaded now."""
    records_skipped: int = 0
    """Records already on the server (same id), left as they are."""
    records_updated: int = 0
    """Records already on the server whose fields or metadata were overwritten (`update=True`)."""
    records_changed: list[str] = field(default_factory=list)
    """Ids whose fields or metadata differ from the published record, left as they are (`update=False`)."""
    gold_published: int = 0
    """Gold records among the records uploaded now."""
    gold_held_back: list[str] = field(default_factory=list)
    """New gold records not uploaded: too few new regular records to sit among (or over `gold_rate`)."""
    gold_tells: list[str] = field(default_factory=list)
    """How the suggestions set gold records apart (each also a `GoldLeakWarning`)."""
    notices: list[str] = field(default_factory=list)
    """Things this publish did that are worth a line: a dataset adopted, a stopped draft made anew."""
    ignored_columns: list[str] = field(default_factory=list)
    """Input columns that fed nothing (answers are never uploaded)."""
    roster: RosterChanges | None = None
    """What the roster sync did."""
    state_dir: Path | None = None
    """`<stem>.labelbook/`: project.json, gold.jsonl, credentials.csv."""

    @property
    def changed_message(self) -> str | None:
        """What to do about `records_changed`, or None when there are none."""
        changed = self.records_changed
        if not changed:
            return None
        many = len(changed) != 1
        return (
            f"{len(changed)} published record{'s' if many else ''} changed fields or metadata under the same "
            f"id and {'were' if many else 'was'} left as published (first: {', '.join(changed[:3])}"
            f"{', …' if len(changed) > 3 else ''}). Publish again with update=True (--update) to overwrite "
            "them (their answers stay), or give the new rows new ids."
        )
