"""Argilla's filters and sort orders as SQL over `records AS r`, as Elasticsearch reads them.

`Query` turns one search's filters into SQL conditions and its sort orders into sort keys,
binding their values as named parameters; `labelbook.server.statements` assembles them into the
statements a search runs. Filters read argilla-server's own tables: metadata through the
metadata indexes where they can answer (`labelbook.server.schema`), record properties on their
columns, suggestions and responses through subqueries written around SQLite's planner (see
docs/search-engine.md, "The indexes, and why").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import sqlite3
from collections.abc import Iterable
from typing import Any

from argilla_server.enums import SortOrder
from argilla_server.search_engine.base import (
    AndFilter,
    MetadataFilterScope,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SuggestionFilterScope,
    TermsFilter,
)

from labelbook.server.schema import hex_id, json_path, metadata_index_name, metadata_value_sql, sql_text

__all__ = ["Query"]


def _term_values(values: Iterable[Any]) -> list[Any]:
    """Each term as text and, when it reads as a number, as that number too.

    Elasticsearch coerces terms to the field's type; SQLite compares 1 and '1' as different.
    """
    out: list[Any] = []
    for value in values:
        out.append(str(value))
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(int(number) if number.is_integer() else number)
            out.append(number)
    return list(dict.fromkeys(out))


_DATE_ONLY_LEN = len("2024-01-01")


def _db_datetime(value: Any, *, upper: bool) -> str:
    """A filter bound on inserted_at/updated_at, in the text form SQLAlchemy stores (naive UTC).

    Numbers are epoch milliseconds, as Elasticsearch reads them; a date without a time covers
    the whole day when it is an upper bound (Elasticsearch rounds `lte` up).
    """
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    else:
        text = str(value).strip()
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if upper and len(text) <= _DATE_ONLY_LEN:
            moment += dt.timedelta(days=1, microseconds=-1)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclasses.dataclass(frozen=True)
class _Question:
    id: str
    type: str


class Query:
    """SQL conditions and sort keys over `records AS r`, with their named parameters."""

    def __init__(
        self, conn: sqlite3.Connection, dataset_id: str, *, probe_responses: bool = False, prefix: str = "p"
    ) -> None:
        self.conn = conn
        self.dataset_id = dataset_id
        self._prefix = prefix  # of the parameters' names, for two Queries' conditions in one statement
        # "No response from this user" as one index probe per record, for searches that read a page
        # of candidates in order; otherwise the user's responses are read once, into a set.
        self.probe_responses = probe_responses
        self.params: dict[str, Any] = {"dataset_id": dataset_id}
        self._questions: dict[str, _Question | None] = {}
        self._metadata_indexes: dict[str, str | None] = {}
        # (index, condition, is terms): conditions a metadata index answers, any of which may drive
        # the search.
        self.indexed: list[tuple[str, str, bool]] = []

    def bind(self, value: Any) -> str:
        name = f"{self._prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def bind_list(self, values: Iterable[Any]) -> str:
        names = [self.bind(v) for v in values]
        return "(" + ", ".join(names) + ")" if names else "(NULL)"

    def question(self, name: str) -> _Question | None:
        if name not in self._questions:
            row = self.conn.execute(
                "SELECT id, json_extract(settings, '$.type') FROM questions "
                "WHERE dataset_id = ? AND name = ?",
                (self.dataset_id, name),
            ).fetchone()
            self._questions[name] = _Question(row[0], row[1]) if row else None
        return self._questions[name]

    def metadata_index(self, name: str) -> str | None:
        """The index on metadata property `name`, unless it is missing or the property holds lists here.

        A list matches when any element does, which its index (one entry per record, the list's
        JSON text) cannot answer; such properties keep the per-record JSON match.
        """
        if name not in self._metadata_indexes:
            self._metadata_indexes[name] = None
            row = self.conn.execute(
                "SELECT id FROM metadata_properties WHERE dataset_id = ? AND name = ?",
                (self.dataset_id, name),
            ).fetchone()
            index = metadata_index_name(hex_id(row[0])) if row else None
            if (
                index
                and self.conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
                ).fetchone()
            ):
                # json_extract returns a list as its JSON text, '[...]': one short range of the index.
                value = metadata_value_sql("metadata", name)
                has_lists = self.conn.execute(
                    f"SELECT 1 FROM records INDEXED BY {index} WHERE {self.dataset_literal()} "
                    f"AND {value} >= '[' AND {value} < '\\' AND json_type(metadata, ?) = 'array' LIMIT 1",
                    (json_path(name),),
                ).fetchone()
                self._metadata_indexes[name] = None if has_lists else index
        return self._metadata_indexes[name]

    def dataset_literal(self) -> str:
        """`dataset_id = '<id>'` with the id inline: the condition of the dataset's partial indexes."""
        return f"dataset_id = {sql_text(hex_id(self.dataset_id))}"

    # filters

    def condition(self, filter: Any) -> str:
        if isinstance(filter, AndFilter):
            parts = [self.condition(f) for f in filter.filters]
            return "(" + " AND ".join(parts) + ")" if parts else "1"
        scope = filter.scope
        if isinstance(scope, MetadataFilterScope):
            return self._metadata_condition(filter, scope.metadata_property)
        if isinstance(scope, SuggestionFilterScope):
            return self._suggestion_condition(filter, scope)
        if isinstance(scope, RecordFilterScope):
            return self._record_condition(filter, str(scope.property))
        if isinstance(scope, ResponseFilterScope):
            return self._response_condition(filter, scope)
        raise ValueError(f"Cannot filter on scope {scope!r}")

    def _match(self, value_sql: str, filter: Any) -> str:
        """`value_sql` matches a terms filter (any term) or lies within a range filter."""
        if isinstance(filter, TermsFilter):
            return f"{value_sql} IN {self.bind_list(_term_values(filter.values))}"
        if isinstance(filter, RangeFilter):
            parts = [f"typeof({value_sql}) IN ('integer', 'real')"]
            if filter.ge is not None:
                parts.append(f"{value_sql} >= {self.bind(float(filter.ge))}")
            if filter.le is not None:
                parts.append(f"{value_sql} <= {self.bind(float(filter.le))}")
            return "(" + " AND ".join(parts) + ")"
        raise ValueError(f"Cannot process filter {filter!r}")

    def _json_match(self, document: str, path: str, filter: Any) -> str:
        """A JSON value (or any element of a JSON array) matches the filter."""
        path_param = self.bind(path)
        return (
            f"(CASE json_type({document}, {path_param}) WHEN 'array' THEN "
            f"EXISTS (SELECT 1 FROM json_each({document}, {path_param}) AS j "
            f"WHERE {self._match('j.value', filter)})"
            f" ELSE {self._match(f'json_extract({document}, {path_param})', filter)} END)"
        )

    def _metadata_condition(self, filter: Any, name: str) -> str:
        index = self.metadata_index(name)
        if index is None:
            return self._json_match("r.metadata", json_path(name), filter)
        value = metadata_value_sql("r.metadata", name)
        if isinstance(filter, TermsFilter):
            match = f"{value} IN {self.bind_list(_term_values(filter.values))}"
        elif isinstance(filter, RangeFilter):
            # SQLite orders NULL < numbers < text, so bounds alone keep numbers only (as typeof() does
            # in `_match`) and stay one range of the index: `< ''` stands in for a missing upper bound.
            parts = []
            if filter.ge is not None:
                parts.append(f"{value} >= {self.bind(float(filter.ge))}")
            parts.append(
                f"{value} <= {self.bind(float(filter.le))}" if filter.le is not None else f"{value} < ''"
            )
            match = " AND ".join(parts)
        else:
            raise ValueError(f"Cannot process filter {filter!r}")
        condition = f"(r.{self.dataset_literal()} AND {match})"
        self.indexed.append((index, condition, isinstance(filter, TermsFilter)))
        return condition

    def _suggestion_condition(self, filter: Any, scope: SuggestionFilterScope) -> str:
        question = self.question(scope.question)
        if question is None:
            return "0"
        prop = str(scope.property)
        if prop in ("value", "score"):
            match = self._json_match(f"s.{prop}", "$", filter)
        elif prop in ("agent", "type"):
            # `+` keeps the planner off the low-selectivity ix_suggestions_type.
            match = self._match(f"+s.{prop}", filter)
        else:
            raise ValueError(f"Cannot filter on suggestion property {prop!r}")
        return (
            "EXISTS (SELECT 1 FROM suggestions AS s WHERE s.record_id = r.id "
            f"AND s.question_id = {self.bind(question.id)} AND {match})"
        )

    def _record_condition(self, filter: Any, prop: str) -> str:
        if prop in ("inserted_at", "updated_at"):
            column = f"r.{prop}"
            if isinstance(filter, RangeFilter):
                parts = []
                if filter.ge is not None:
                    parts.append(f"{column} >= {self.bind(_db_datetime(filter.ge, upper=False))}")
                if filter.le is not None:
                    parts.append(f"{column} <= {self.bind(_db_datetime(filter.le, upper=True))}")
                return "(" + " AND ".join(parts) + ")"
            values = [_db_datetime(v, upper=False) for v in filter.values]
            return f"{column} IN {self.bind_list(values)}"
        if prop == "id":
            if isinstance(filter, RangeFilter):
                raise ValueError("Cannot filter record ids by range")
            ids = []
            for value in filter.values:
                try:
                    ids.append(hex_id(value))
                except ValueError:
                    continue
            return f"r.id IN {self.bind_list(ids)}"
        if prop in ("external_id", "status"):
            if isinstance(filter, RangeFilter):
                return self._match(f"r.{prop}", filter)
            return f"r.{prop} IN {self.bind_list(filter.values)}"
        raise ValueError(f"Cannot filter on record property {prop!r}")

    def _response_condition(self, filter: Any, scope: ResponseFilterScope) -> str:
        user = self.bind(hex_id(scope.user.id)) if scope.user is not None else None
        if scope.question:
            match = self._json_match('rs."values"', json_path(scope.question) + ".value", filter)
            if user is not None:
                # Non-correlated: the user's responses are read once through their index.
                return (
                    f"r.id IN (SELECT rs.record_id FROM responses AS rs "
                    f"WHERE rs.user_id = {user} AND {match})"
                )
            return f"EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id AND {match})"
        if scope.property == "status" and isinstance(filter, TermsFilter):
            return self._response_status_condition([str(v) for v in filter.values], user)
        raise ValueError(f"Cannot process filter scope {scope!r}")

    def _response_status_condition(self, statuses: list[str], user: str | None) -> str:
        """Elasticsearch's `_response_status_filter_to_es_filter`, with "pending" meaning no response.

        Without a user, pending is "nobody responded"; with one, "this user did not respond".
        `+rs.status` keeps SQLite off ix_responses_status, which it would otherwise pick.
        """
        parts = []
        if "pending" in statuses:
            statuses = [s for s in statuses if s != "pending"]
            if user is not None and self.probe_responses:
                parts.append(
                    "NOT EXISTS (SELECT 1 FROM responses AS rs INDEXED BY lb_ix_responses_user_record "
                    f"WHERE rs.user_id = {user} AND rs.record_id = r.id)"
                )
            elif user is not None:
                parts.append(
                    f"r.id NOT IN (SELECT rs.record_id FROM responses AS rs WHERE rs.user_id = {user})"
                )
            else:
                parts.append("NOT EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id)")
            if not statuses:
                return parts[0]
        status_match = f" AND +rs.status IN {self.bind_list(statuses)}" if statuses else ""
        if user is not None:
            parts.append(
                f"r.id IN (SELECT rs.record_id FROM responses AS rs WHERE rs.user_id = {user}{status_match})"
            )
        elif statuses:
            parts.append(f"EXISTS (SELECT 1 FROM responses AS rs WHERE rs.record_id = r.id{status_match})")
        else:
            parts.append("1")
        return "(" + " OR ".join(parts) + ")"

    # sort

    def sort_key(self, order: Order) -> tuple[str, bool]:
        """(SQL value to sort by, descending?) Multi-valued fields sort by min ascending, max descending."""
        descending = order.order == SortOrder.desc
        pick = "max" if descending else "min"
        scope = order.scope
        if isinstance(scope, RecordFilterScope):
            prop = str(scope.property)
            if prop not in ("id", "external_id", "inserted_at", "updated_at", "status"):
                raise ValueError(f"Cannot sort by record property {prop!r}")
            return f"r.{prop}", descending
        if isinstance(scope, MetadataFilterScope):
            path = self.bind(json_path(scope.metadata_property))
            return self._json_sort_value("r.metadata", path, pick), descending
        if isinstance(scope, SuggestionFilterScope):
            question = self.question(scope.question)
            prop = str(scope.property)
            if question is None or prop not in ("value", "score", "agent", "type"):
                return "NULL", descending
            q = self.bind(question.id)
            if prop in ("value", "score"):
                value = f"(SELECT {pick}(j.value) FROM json_each(s.{prop}) AS j WHERE j.type != 'object')"
            else:
                value = f"s.{prop}"
            return (
                f"(SELECT {value} FROM suggestions AS s WHERE s.record_id = r.id AND s.question_id = {q})",
                descending,
            )
        if isinstance(scope, ResponseFilterScope):
            # Elasticsearch sorts on the average over the (user's) responses.
            user_match = (
                f" AND rs.user_id = {self.bind(hex_id(scope.user.id))}" if scope.user is not None else ""
            )
            if scope.question:
                question = self.question(scope.question)
                path = self.bind(json_path(scope.question) + ".value")
                numeric = question is not None and question.type == "rating"
                agg = "avg" if numeric else pick
                value = f'{agg}(json_extract(rs."values", {path}))'
            else:
                value = f"{pick}(rs.status)"
            return (
                f"(SELECT {value} FROM responses AS rs WHERE rs.record_id = r.id{user_match})",
                descending,
            )
        raise ValueError(f"Cannot sort by scope {scope!r}")

    def _json_sort_value(self, document: str, path: str, pick: str) -> str:
        return (
            f"(CASE json_type({document}, {path}) WHEN 'array' THEN "
            f"(SELECT {pick}(j.value) FROM json_each({document}, {path}) AS j) "
            f"ELSE json_extract({document}, {path}) END)"
        )
