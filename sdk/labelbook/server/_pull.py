"""A route argilla-server lacks, for `labelbook pull`: a dataset's records with their responses, a page
at a time after a cursor, optionally only those with a response saved after a moment.

argilla's own listing (`GET /api/v1/datasets/{id}/records`) pages by OFFSET and counts the dataset
for every page: page k walks k pages of index entries first, so a pull of N records costs O(N^2)
(at 1M records the last pages took about 0.2 s of skipping plus 0.2 s of counting each). This
route pages by a cursor (`after`: the last record id of the previous page; the order is
`(inserted_at, id)`, read from `lb_ix_records_dataset_inserted`), so every page costs the same,
and counts once (on the first page; later pages carry no `total`).

`since`: argilla-server's record search filters on a record's own `updated_at`, which saving a
response does not change (only a change of the record's status does), and its response filters
know the status only; so a pull of the answers saved since a moment would otherwise download every
record. Here it is answered from the server's tables (`responses.updated_at`).

For owners and admins of the dataset's workspace only (argilla's own policy for listing every
user's responses), in the shape of `GET /api/v1/datasets/{id}/records?include=responses`. Other
Argilla servers answer 404 here, and the pull pages through argilla's listing instead.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations as objects, and
# they name classes imported inside `install`.
import datetime as dt
from typing import Annotated, Any
from uuid import UUID

PATH = "/labelbook/datasets/{dataset_id}/records"
"""Under /api/v1, beside argilla's own routes."""


def _moment(since: str) -> dt.datetime:
    """`since` as the naive UTC argilla stores; ValueError if it is not ISO 8601."""
    moment = dt.datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def page_statements(
    dataset_id: UUID, since: dt.datetime | None = None, cursor: tuple[dt.datetime, UUID] | None = None
) -> tuple[Any, Any]:
    """A page's select (records in `(inserted_at, id)` order, after `cursor`'s record, with a response
    saved after `since`) and the count of every record it pages through; public for the plan tests."""
    from argilla_server.models import Record, Response
    from sqlalchemy import exists, func, literal, select, tuple_

    condition = Record.dataset_id == dataset_id
    if since is not None:
        condition = condition & exists().where(Response.record_id == Record.id, Response.updated_at > since)
    query = select(Record).where(condition).order_by(Record.inserted_at, Record.id)
    if cursor is not None:
        bound = tuple_(literal(cursor[0], Record.inserted_at.type), literal(cursor[1], Record.id.type))
        query = query.where(tuple_(Record.inserted_at, Record.id) > bound)
    return query, select(func.count(Record.id)).where(condition)


def install(api: Any) -> None:
    """Add the route to argilla-server's /api/v1 app (before the privacy wrapper classifies routes); once."""
    if any(getattr(route, "path", None) == PATH for route in api.routes):
        return
    from argilla_server.api.policies.v1 import DatasetPolicy, authorize
    from argilla_server.api.schemas.v1.records import Records
    from argilla_server.database import get_async_db
    from argilla_server.models import Dataset, Record, User
    from argilla_server.security import auth
    from fastapi import Depends, HTTPException, Query, Security
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import selectinload

    async def records_page(
        *,
        db: Annotated[AsyncSession, Depends(get_async_db)],
        dataset_id: UUID,
        current_user: Annotated[User, Security(auth.get_current_user)],
        since: Annotated[
            str | None, Query(description="ISO 8601; only records with a response saved strictly after it")
        ] = None,
        after: Annotated[UUID | None, Query(description="the last record id of the previous page")] = None,
        offset: Annotated[int, Query(ge=0, description="without `after`: records to skip")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> Records:
        dataset = await Dataset.get_or_raise(db, dataset_id)
        await authorize(current_user, DatasetPolicy.list_records_with_all_responses(dataset))
        since_moment = None
        if since is not None:
            try:
                since_moment = _moment(since)
            except ValueError as err:
                raise HTTPException(status_code=422, detail=f"since {since!r}: not an ISO 8601 time") from err
        cursor = None
        if after is not None:
            inserted = await db.scalar(
                select(Record.inserted_at).where(Record.id == after, Record.dataset_id == dataset_id)
            )
            if inserted is None:
                raise HTTPException(status_code=422, detail=f"after {after}: no such record in this dataset")
            cursor = (inserted, after)
        query, count = page_statements(dataset_id, since_moment, cursor)
        query = query.options(selectinload(Record.responses))
        items = (await db.scalars(query.offset(offset).limit(limit))).unique().all()
        if after is not None:
            return Records(items=items)  # counted on the first page only
        return Records(items=items, total=await db.scalar(count))

    api.add_api_route(
        PATH,
        records_page,
        methods=["GET"],
        response_model=Records,
        response_model_exclude_unset=True,
        tags=["labelbook"],
    )
