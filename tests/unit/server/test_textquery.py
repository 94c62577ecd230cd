"""simple_query_string parsing and compilation, checked by hand against Lucene's SimpleQueryParser."""

from __future__ import annotations

import sqlite3

import pytest

from labelbook.server.textquery import (
    All,
    And,
    Node,
    Not,
    Nothing,
    Or,
    Phrase,
    Term,
    compile_query,
    parse,
    tokenize,
)


def t(*tokens: str, prefix: bool = False) -> Term:
    return Term(tokens, prefix)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ("hello", "world")),
        ("fox-trot", ("fox", "trot")),
        ("snake_case", ("snake", "case")),
        ("Über café 42", ("über", "café", "42")),
        ("日本語", ("日本語",)),
        ("¡¿...?!", ()),
    ],
)
def test_tokenize_lowercases_and_splits_on_punctuation(text: str, tokens: tuple[str, ...]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("fox", t("fox")),
        ("quick fox", And((t("quick"), t("fox")))),
        ("quick + fox", And((t("quick"), t("fox")))),
        ("quick | fox", Or((t("quick"), t("fox")))),
        # No precedence: operators group left to right.
        ("a | b c", And((Or((t("a"), t("b"))), t("c")))),
        ("a b | c", Or((And((t("a"), t("b"))), t("c")))),
        ("a | (b c)", Or((t("a"), And((t("b"), t("c")))))),
        ("-fox", Not(t("fox"))),
        ("--fox", t("fox")),
        ("fox -quick", And((t("fox"), Not(t("quick"))))),
        ("a | -b", Or((t("a"), Not(t("b"))))),
        ("-(a b)", Not(And((t("a"), t("b"))))),
        ('"quick brown"', Phrase(("quick", "brown"))),
        ('"quick brown"~2', Phrase(("quick", "brown"), 2)),
        ('"fox"', t("fox")),
        ("qui*", t("qui", prefix=True)),
        ("foo-ba*", t("foo", "ba", prefix=True)),
        ("fox-trot", t("fox", "trot")),  # one term, two tokens
        ("fox~2", t("fox")),  # fuzziness is searched exactly
        ("a \\+b", And((t("a"), t("b")))),
        ('"unclosed phrase', And((t("unclosed"), t("phrase")))),
        ("a ) b", And((t("a"), t("b")))),
        ("((a))", t("a")),
        ("*", All()),
        ("", Nothing()),
        ("   ", Nothing()),
        ("!!! fox", t("fox")),  # clauses without tokens are dropped
        ("-*", Nothing()),
    ],
)
def test_parse(query: str, tree: Node) -> None:
    assert parse(query) == tree


# --- compilation, run against a real FTS5 table -----------------------------------------------------

DOCS = [
    # (record, field, text)
    (1, "title", "The quick brown fox"),
    (1, "body", "jumps over the lazy dog"),
    (2, "title", "Quick thinking"),
    (2, "body", "a fox in the henhouse"),
    (3, "title", "Lazy afternoon"),
    (4, "title", "Brown bread"),
    (4, "body", "a quick recipe"),
]


@pytest.fixture(scope="module")
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE docs (docid INTEGER PRIMARY KEY, record_id, field, body)")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(body, content='docs', content_rowid='docid')")
    conn.executemany("INSERT INTO docs (record_id, field, body) VALUES (?, ?, ?)", DOCS)
    conn.execute("INSERT INTO fts (fts) VALUES ('rebuild')")
    return conn


def matching(db: sqlite3.Connection, query: str, field: str | None = None) -> set[int]:
    params: dict[str, object] = {}
    field_sql = f" AND d.field = '{field}'" if field else ""

    def match_sql(name: str) -> str:
        return (
            "SELECT d.record_id AS record_id FROM fts JOIN docs AS d ON d.docid = fts.rowid "
            f"WHERE fts MATCH :{name}{field_sql}"
        )

    compiled = compile_query(
        parse(query),
        match_sql=match_sql,
        universe_sql="SELECT DISTINCT record_id FROM docs",
        per_doc=field is not None,
        params=params,
    )
    return {row[0] for row in db.execute(compiled.records_sql, params)}


@pytest.mark.parametrize(
    ("query", "records"),
    [
        ("fox", {1, 2}),
        ("quick fox", {1, 2}),  # terms may sit in different fields of a record
        ("quick -fox", {4}),
        ("-fox", {3, 4}),
        ("lazy | bread", {1, 3, 4}),
        ("(lazy | bread) quick", {1, 4}),
        ("lazy | -quick", {1, 3}),
        ('"quick brown"', {1}),
        ('"brown quick"', set()),
        ("qui*", {1, 2, 4}),
        ("*", {1, 2, 3, 4}),
        ("", set()),
    ],
)
def test_compiled_queries_match_whole_records(db: sqlite3.Connection, query: str, records: set[int]) -> None:
    assert matching(db, query) == records


@pytest.mark.parametrize(
    ("query", "records"),
    [
        ("quick fox", {1}),  # both in the title
        ("fox", {1}),
        ("-fox", {2, 3, 4}),
        ("quick -brown", {2}),
    ],
)
def test_compiled_queries_on_one_field(db: sqlite3.Connection, query: str, records: set[int]) -> None:
    assert matching(db, query, field="title") == records


def test_rank_expression_covers_positive_clauses_only() -> None:
    compiled = compile_query(
        parse("quick -fox | bread"),
        match_sql=lambda name: f"SELECT record_id FROM m WHERE x = :{name}",
        universe_sql="SELECT record_id FROM u",
        per_doc=False,
        params={},
    )
    assert compiled.rank_match == '"quick" OR "bread"'
    assert not compiled.rank_is_exact
