"""A route argilla-server lacks, for `labelbook pull --since`: the records with a response saved after
a moment, with their responses, a page at a time.

argilla-server's record search filters on a record's own `updated_at`, which saving a response does
not change (only a change of the record's status does), and its response filters know the status
only; so a pull of the answers saved since a moment would otherwise download every record. The
route answers from the server's tables (`responses.updated_at`), for owners and admins of the
dataset's workspace only (argilla's own policy for listing every user's responses), in the shape
of `GET /api/v1/datasets/{id}/records?include=responses`. Other Argilla servers answer 404 here,
and the pull filters after a full download instead.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations as objects, and
# they name classes imported inside `install`.
import datetime as dt
from typing import Annotated, Any
from uuid import UUID

PATH = "/labelbook/datasets/{dataset_id}/records"
"""Under /api/v1, beside argilla's own routes."""


def install(api: Any) -> None:
    """Add the route to argilla-server's /api/v1 app (before the privacy wrapper classifies routes); once."""
    if any(getattr(route, "path", None) == PATH for route in api.routes):
        return
    from argilla_server.api.policies.v1 import DatasetPolicy, authorize
    from argilla_server.api.schemas.v1.records import Records
    from argilla_server.database import get_async_db
    from argilla_server.models import Dataset, Record, Response, User
    from argilla_server.security import auth
    from fastapi import Depends, HTTPException, Query, Security
    from sqlalchemy import exists, func, select
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import selectinload

    async def records_answered_since(
        *,
        db: Annotated[AsyncSession, Depends(get_async_db)],
        dataset_id: UUID,
        since: Annotated[str, Query(description="ISO 8601; responses saved strictly after it (naive: UTC)")],
        current_user: Annotated[User, Security(auth.get_current_user)],
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> Records:
        dataset = await Dataset.get_or_raise(db, dataset_id)
        await authorize(current_user, DatasetPolicy.list_records_with_all_responses(dataset))
        try:
            moment = dt.datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError as err:
            raise HTTPException(status_code=422, detail=f"since {since!r}: not an ISO 8601 time") from err
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)  # stored naive UTC
        answered = exists().where(Response.record_id == Record.id, Response.updated_at > moment)
        condition = (Record.dataset_id == dataset_id) & answered
        query = (
            select(Record)
            .where(condition)
            .options(selectinload(Record.responses))
            .order_by(Record.inserted_at, Record.id)
            .offset(offset)
            .limit(limit)
        )
        items = (await db.scalars(query)).unique().all()
        total = await db.scalar(select(func.count(Record.id)).where(condition))
        return Records(items=items, total=total)

    api.add_api_route(
        PATH,
        records_answered_since,
        methods=["GET"],
        response_model=Records,
        response_model_exclude_unset=True,
        tags=["labelbook"],
    )
