"""Submitting answers in one SQLite transaction: argilla-server 2.8's response writes, regrouped.

For every answer argilla-server 2.8 writes the response, touches the dataset's last activity,
upserts the dataset's user and commits; then it opens a second, serializable transaction that
reloads the record with its dataset and submitted responses, rewrites the record's status and
commits again; then it sends the webhook events. A bulk of 100 answers runs that sequence 100
times: 200 commits and about 1,500 statements, each a round trip to SQLite's thread.

Here a bulk validates every item as before (the same checks, in the same order, with the same
error per item), writes all the accepted answers in one INSERT ... ON CONFLICT, recomputes the
statuses of their records with one count, touches each dataset once and commits once; then it
sends the same events in the same order (per answer: record.updated, record.completed when the
record is completed, response.created or response.updated). A single new answer
(`POST /records/{id}/responses`) recomputes its record's status inside its own transaction
instead of a second one. In SQLite the status count runs after the transaction's first write,
so it holds the database's only write lock: no other answer can land between the count and the
commit, which is what the second, serializable transaction protects against on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4


async def recompute_record_statuses(db: Any, records: list[Any]) -> None:
    """Set each record's status from its submitted answers, as argilla's overlap distribution does.

    The rule is `distribution._update_record_status_with_overlap_strategy`'s (completed once
    `min_submitted` answers are submitted, pending otherwise), with one count for all records
    instead of loading every record's submitted responses. Must run inside the writing transaction.
    """
    from argilla_server.enums import DatasetDistributionStrategy, RecordStatus, ResponseStatus
    from argilla_server.models import Response
    from sqlalchemy import select

    for record in records:
        if record.dataset.distribution_strategy != DatasetDistributionStrategy.overlap:
            raise NotImplementedError(
                f"unsupported distribution strategy `{record.dataset.distribution_strategy}`"
            )
    # The records' answers by record id only, their status counted here: with a condition on the
    # status in SQL, SQLite reads ix_responses_status, i.e. every submitted answer of every dataset
    # (a single answer took 60 ms at 5k records and 137 ms at 100k).
    listed = await db.execute(
        select(Response.record_id, Response.status).where(
            Response.record_id.in_([record.id for record in records])
        )
    )
    submitted: dict[Any, int] = {}
    for record_id, status in listed.tuples().all():
        if status == ResponseStatus.submitted:
            submitted[record_id] = submitted.get(record_id, 0) + 1
    for record in records:
        enough = submitted.get(record.id, 0) >= record.dataset.distribution["min_submitted"]
        record.status = RecordStatus.completed if enough else RecordStatus.pending


async def notify_record_settled(db: Any, search_engine: Any, record: Any) -> None:
    """What `distribution.update_record_status` does after its commit: engine hook and record events."""
    from argilla_server.contexts import distribution
    from argilla_server.webhooks.v1.enums import RecordEvent

    await search_engine.partial_record_update(record, status=record.status)
    # Looked up at call time: the bootstrap wraps these to skip events nobody subscribes to.
    await distribution.notify_record_event_v1(db, RecordEvent.updated, record)
    if record.is_completed():
        await distribution.notify_record_event_v1(db, RecordEvent.completed, record)


async def notify_response_written(db: Any, search_engine: Any, response: Any, created: bool) -> None:
    """What `datasets.upsert_response` does after the status update: engine hook and response event."""
    from argilla_server.contexts import datasets
    from argilla_server.webhooks.v1.enums import ResponseEvent

    await datasets._load_users_from_responses(response)
    await search_engine.update_record_response(response)
    event = ResponseEvent.created if created else ResponseEvent.updated
    await datasets.notify_response_event_v1(db, event, response)


async def _write_bulk(db: Any, user: Any, accepted: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Upsert the accepted answers, recompute their records' statuses, touch their datasets; commit."""
    from argilla_server.contexts import datasets
    from argilla_server.models import DatasetUser, Response
    from argilla_server.models.mixins import _INSERT_FUNC
    from fastapi.encoders import jsonable_encoder

    # One timestamp: a new row gets inserted_at == updated_at (upstream's test for "created"),
    # an updated row keeps its older inserted_at.
    now = datetime.utcnow()
    insert = _INSERT_FUNC[db.bind.dialect.name](Response).values(
        [
            {
                "id": uuid4(),
                "values": jsonable_encoder(item.values),
                "status": item.status,
                "record_id": item.record_id,
                "user_id": user.id,
                "inserted_at": now,
                "updated_at": now,
            }
            for item, _record in accepted
        ]
    )
    upsert = (
        insert.on_conflict_do_update(
            index_elements=[Response.record_id, Response.user_id],
            set_={
                "values": insert.excluded["values"],
                "status": insert.excluded["status"],
                "updated_at": now,
            },
        )
        .returning(Response)
        .execution_options(populate_existing=True)
    )
    written = {response.record_id: response for response in (await db.execute(upsert)).scalars()}
    records = [record for _item, record in accepted]
    await recompute_record_statuses(db, records)
    for dataset in {record.dataset.id: record.dataset for record in records}.values():
        await datasets._touch_dataset_last_activity_at(db, dataset)
        await DatasetUser.upsert(
            db,
            schema={"dataset_id": dataset.id, "user_id": user.id},
            constraints=[DatasetUser.dataset_id, DatasetUser.user_id],
            autocommit=False,
        )
    await db.commit()
    return written


def submit_in_one_transaction() -> None:
    """Install the one-transaction bulk use case and the single answer's one-transaction status."""
    from argilla_server.contexts import datasets
    from argilla_server.use_cases.responses.upsert_responses_in_bulk import UpsertResponsesInBulkUseCase

    UpsertResponsesInBulkUseCase.execute = _bulk_in_one_transaction(UpsertResponsesInBulkUseCase.execute)
    datasets.create_response = _create_response


def _bulk_in_one_transaction(item_by_item: Any) -> Any:
    """The bulk use case's `execute`: every item checked as upstream does, the accepted ones written
    together; upstream's item-by-item `execute` where that cannot keep its behaviour."""
    from argilla_server.api.policies.v1 import RecordPolicy, authorize
    from argilla_server.api.schemas.v1.responses import Response as ResponseSchema
    from argilla_server.api.schemas.v1.responses import ResponseBulk, ResponseBulkError
    from argilla_server.contexts import datasets
    from argilla_server.errors import future as errors
    from argilla_server.validators.responses import ResponseUpsertValidator
    from sqlalchemy.exc import SQLAlchemyError

    async def execute(self: Any, responses: list[Any], user: Any) -> list[Any]:
        db = self.db
        record_ids = [item.record_id for item in responses]
        if len(set(record_ids)) != len(record_ids):
            # Two answers to one record: upstream writes the second over the first (and reports it
            # as an update); keep exactly that.
            return await item_by_item(self, responses, user)
        all_records = await datasets.get_records_by_ids(db, record_ids)
        await datasets.preload_records_relationships_before_validate(
            db, [record for record in all_records if record is not None]
        )
        failures: dict[int, Exception] = {}
        accepted: list[tuple[Any, Any]] = []
        for index, (item, record) in enumerate(zip(responses, all_records, strict=True)):
            try:
                if record is None:
                    raise errors.NotFoundError(f"Record with id `{item.record_id}` not found")
                await authorize(user, RecordPolicy.create_response(record))
                ResponseUpsertValidator.validate(item, record)
            except Exception as err:  # as upstream: every item's error becomes its reply
                failures[index] = err
            else:
                accepted.append((item, record))
        written: dict[Any, Any] = {}
        if accepted:
            try:
                written = await _write_bulk(db, user, accepted)
            except (SQLAlchemyError, NotImplementedError):
                # A record deleted meanwhile, an unknown distribution: upstream's sequence gives
                # each item its own error and keeps the others.
                await db.rollback()
                return await item_by_item(self, responses, user)
        for _item, record in accepted:
            await notify_record_settled(db, self.search_engine, record)
            response = written[record.id]
            created = response.inserted_at == response.updated_at  # upstream's test
            await notify_response_written(db, self.search_engine, response, created)
        return [
            ResponseBulk(item=None, error=ResponseBulkError(detail=str(failures[index])))
            if index in failures
            else ResponseBulk(item=ResponseSchema.model_validate(written[item.record_id]), error=None)
            for index, item in enumerate(responses)
        ]

    return execute


async def _create_response(db: Any, search_engine: Any, record: Any, user: Any, response_create: Any) -> Any:
    """argilla-server's `create_response`, the record's status set in the answer's own transaction."""
    from argilla_server.contexts import datasets
    from argilla_server.errors import future as errors
    from argilla_server.models import DatasetUser, Response
    from argilla_server.validators.responses import ResponseCreateValidator
    from fastapi.encoders import jsonable_encoder

    if await Response.get_by(db, record_id=record.id, user_id=user.id):
        raise errors.NotUniqueError(
            f"Response already exists for record with id `{record.id}` and by user with id `{user.id}`"
        )
    ResponseCreateValidator.validate(response_create, record)
    response = await Response.create(
        db,
        values=jsonable_encoder(response_create.values),
        status=response_create.status,
        record_id=record.id,
        user_id=user.id,
        autocommit=False,
    )
    await datasets._touch_dataset_last_activity_at(db, record.dataset)
    await DatasetUser.upsert(
        db,
        schema={"dataset_id": record.dataset_id, "user_id": user.id},
        constraints=[DatasetUser.dataset_id, DatasetUser.user_id],
        autocommit=False,
    )
    await recompute_record_statuses(db, [record])
    await db.commit()
    await notify_record_settled(db, search_engine, record)
    await notify_response_written(db, search_engine, response, created=True)
    return response
