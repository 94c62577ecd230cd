"""Elasticsearch's `simple_query_string` syntax, parsed to a tree and compiled to SQLite FTS5 + SQL.

The grammar and its quirks follow Lucene's `SimpleQueryParser`, which Elasticsearch uses:

- whitespace between clauses is the default operator, AND (argilla-server asks for AND);
- `|` is OR, `+` is AND, `-` negates the next clause, `"..."` is a phrase (`"..."~N` a sloppy
  one), `foo*` a prefix, parentheses group, `\\` escapes an operator character;
- operators have no precedence: they group left to right, so `a | b c` is `(a OR b) AND c`;
- a negated clause means "every record except these", so `-foo` alone matches everything
  without foo, and `a | -b` matches a, or anything without b;
- a term that analyses to several tokens (`foo-bar`) needs all of them in the same field;
- a query with no searchable token matches nothing; a bare `*` matches everything.

Fuzzy operators (`foo~2`) are accepted and searched exactly: FTS5 has no edit-distance search.

Matching is per record: with several text fields, `foo bar` matches a record with foo in one
field and bar in another, as it does in Elasticsearch, where one record is one document.
This module is pure (no argilla, no database): the engine passes in the SQL that finds the
records whose text matches one FTS5 expression.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable

__all__ = [
    "All",
    "And",
    "CompiledQuery",
    "Node",
    "Not",
    "Nothing",
    "Or",
    "Phrase",
    "Term",
    "compile_query",
    "parse",
    "tokenize",
]


@dataclasses.dataclass(frozen=True)
class Term:
    """Every token must occur in one field; with `prefix`, the last token is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclasses.dataclass(frozen=True)
class Phrase:
    """Tokens in this order (within `slop` positions of each other when set) in one field."""

    tokens: tuple[str, ...]
    slop: int | None = None


@dataclasses.dataclass(frozen=True)
class And:
    """Records matching every child."""

    children: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    """Records matching at least one child."""

    children: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Not:
    """Records of the dataset that do not match `child`."""

    child: Node


@dataclasses.dataclass(frozen=True)
class All:
    """Every record of the dataset."""


@dataclasses.dataclass(frozen=True)
class Nothing:
    """No record."""


Node = Term | Phrase | And | Or | Not | All | Nothing

_OPERATOR_CHARS = frozenset('"|+()')
_WHITESPACE = frozenset(" \t\n\r")


def tokenize(text: str) -> tuple[str, ...]:
    """Lowercased word tokens, split like FTS5's `unicode61` tokenizer (letters, digits, private use)."""
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LN" or category == "Co":
            current.append(char)
        elif current:
            tokens.append("".join(current).lower())
            current = []
    if current:
        tokens.append("".join(current).lower())
    return tuple(tokens)


def parse(query: str) -> Node:
    """Parse a `simple_query_string` query into a tree, the way Lucene's SimpleQueryParser does."""
    parser = _Parser(query)
    return _simplify(parser.parse_clauses(top_level=True))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def parse_clauses(self, *, top_level: bool) -> Node | None:
        builder = _TreeBuilder()
        text = self.text
        while self.index < len(text):
            char = text[self.index]
            if char == "(":
                self.index += 1
                builder.add(self.parse_clauses(top_level=False))
            elif char == ")":
                self.index += 1
                if not top_level:
                    return builder.top
                # Lucene ignores an unmatched closing parenthesis.
            elif char == '"':
                self.index += 1
                builder.add(self.consume_phrase())
            elif char == "+":
                self.index += 1
                builder.set_operator(And)
            elif char == "|":
                self.index += 1
                builder.set_operator(Or)
            elif char == "-":
                self.index += 1
                builder.negations += 1
                continue
            elif char in _WHITESPACE:
                self.index += 1
                continue
            else:
                builder.add(self.consume_term())
            builder.negations = 0
        return builder.top

    def consume_phrase(self) -> Node | None:
        text = self.text
        start = self.index
        chars: list[str] = []
        escaped = False
        while self.index < len(text):
            char = text[self.index]
            self.index += 1
            if escaped:
                chars.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                break
            else:
                chars.append(char)
        else:
            # No closing quote: Lucene ignores the lone quote and reads the rest as terms.
            self.index = start
            return self.consume_term()
        slop = self.consume_slop()
        tokens = tokenize("".join(chars))
        if not tokens:
            return None
        if len(tokens) == 1:
            return Term(tokens)
        return Phrase(tokens, slop)

    def consume_slop(self) -> int | None:
        text = self.text
        if self.index < len(text) and text[self.index] == "~":
            end = self.index + 1
            while end < len(text) and text[end].isdigit():
                end += 1
            digits = text[self.index + 1 : end]
            self.index = end
            return int(digits) if digits else None
        return None

    def consume_term(self) -> Node | None:
        text = self.text
        chars: list[str] = []
        escaped = False
        prefix = False
        while self.index < len(text):
            char = text[self.index]
            if escaped:
                chars.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char in _OPERATOR_CHARS or char in _WHITESPACE:
                break
            elif char == "~":
                # Fuzziness: read the edit distance and search the term exactly.
                self.consume_slop()
                continue
            elif char == "*" and self._term_ends_after(self.index + 1):
                prefix = True
            else:
                chars.append(char)
            self.index += 1
        raw = "".join(chars)
        if prefix and not raw.strip():
            return All()
        tokens = tokenize(raw)
        if not tokens:
            return None
        return Term(tokens, prefix)

    def _term_ends_after(self, index: int) -> bool:
        return (
            index >= len(self.text) or self.text[index] in _OPERATOR_CHARS or self.text[index] in _WHITESPACE
        )


class _TreeBuilder:
    """Lucene's `buildQueryTree`: left to right, a new parent whenever the operator changes."""

    def __init__(self) -> None:
        self.top: Node | None = None
        self.operator: type[And] | type[Or] | None = None
        self.previous: type[And] | type[Or] | None = None
        self.negations = 0

    def set_operator(self, operator: type[And] | type[Or]) -> None:
        if self.top is not None and self.operator is None:
            self.operator = operator

    def add(self, branch: Node | None) -> None:
        if branch is None:
            return
        if self.negations % 2 == 1:
            branch = Not(branch)
        if self.top is None:
            self.top = branch
        else:
            operator = self.operator or And
            if operator is not self.previous or not isinstance(self.top, operator):
                self.top = operator((self.top,))
            self.top = operator((*self.top.children, branch))
            self.previous = operator
        self.operator = None


def _simplify(node: Node | None) -> Node:
    """Flatten nested groups of one operator and fold All/Nothing away."""
    if node is None:
        return Nothing()
    if isinstance(node, Not):
        child = _simplify(node.child)
        if isinstance(child, Not):
            return child.child
        if isinstance(child, All):
            return Nothing()
        if isinstance(child, Nothing):
            return All()
        return Not(child)
    if isinstance(node, And | Or):
        kind = type(node)
        absorbing, neutral = (Nothing, All) if kind is And else (All, Nothing)
        children: list[Node] = []
        for child in (_simplify(c) for c in node.children):
            if isinstance(child, absorbing):
                return child
            if isinstance(child, neutral):
                continue
            children.extend(child.children if isinstance(child, kind) else (child,))
        if not children:
            return neutral()
        if len(children) == 1:
            return children[0]
        return kind(tuple(children))
    return node


# --- compilation -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CompiledQuery:
    """SQL for the records a query matches, and the FTS5 expression that ranks them."""

    records_sql: str
    """A SELECT whose only column, `record_id`, lists the matching records (named parameters)."""
    rank_match: str | None
    """OR of the query's positive clauses, for bm25 ranking; None when nothing positive is searched."""
    rank_is_exact: bool
    """True when the records matching `rank_match` are exactly the query's records."""


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fts_leaf(node: Term | Phrase) -> str:
    if isinstance(node, Phrase):
        if node.slop:
            return f"NEAR({' '.join(_quote(t) for t in node.tokens)}, {node.slop})"
        return _quote(" ".join(node.tokens))
    parts = [_quote(t) for t in node.tokens]
    if node.prefix:
        parts[-1] += "*"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _fts_expression(node: Node, *, per_doc: bool) -> str | None:
    """One FTS5 expression equivalent to `node`, or None when only set operations over records can say it.

    With several fields per record (per_doc False), only OR distributes over fields.
    """
    if isinstance(node, Term | Phrase):
        return _fts_leaf(node)
    if isinstance(node, Or):
        parts = [_fts_expression(c, per_doc=per_doc) for c in node.children]
        if any(p is None for p in parts):
            return None
        return "(" + " OR ".join(p for p in parts if p) + ")"
    if isinstance(node, And) and per_doc:
        positives = [c for c in node.children if not isinstance(c, Not)]
        negatives = [c.child for c in node.children if isinstance(c, Not)]
        if not positives:
            return None
        pos = [_fts_expression(c, per_doc=True) for c in positives]
        neg = [_fts_expression(c, per_doc=True) for c in negatives]
        if any(p is None for p in pos) or any(n is None for n in neg):
            return None
        expression = "(" + " AND ".join(p for p in pos if p) + ")"
        if neg:
            expression = f"({expression} NOT ({' OR '.join(n for n in neg if n)}))"
        return expression
    return None


def _positive_leaves(node: Node) -> list[str]:
    if isinstance(node, Term | Phrase):
        return [_fts_leaf(node)]
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in _positive_leaves(child)]
    return []


def compile_query(
    node: Node,
    *,
    match_sql: Callable[[str], str],
    universe_sql: str,
    per_doc: bool,
    params: dict[str, object],
    param_prefix: str = "tq",
) -> CompiledQuery:
    """Compile a parsed query to SQL over records.

    `match_sql(name)` returns a SELECT of `record_id` for the records with a text document
    matching the FTS5 expression bound to `:name`; `universe_sql` selects every `record_id` of
    the dataset. `per_doc` says one document is one record (a single text field is searched).
    FTS5 expressions are added to `params`.
    """
    counter = iter(range(1_000_000))

    def bind(expression: str) -> str:
        name = f"{param_prefix}{next(counter)}"
        params[name] = expression
        return match_sql(name)

    def wrap(sql: str) -> str:
        return f"SELECT record_id FROM ({sql})"

    def records(n: Node) -> str:
        expression = _fts_expression(n, per_doc=per_doc)
        if expression is not None:
            return bind(expression)
        if isinstance(n, All):
            return universe_sql
        if isinstance(n, Nothing):
            return "SELECT NULL AS record_id WHERE 0"
        if isinstance(n, Not):
            return f"{wrap(universe_sql)} EXCEPT {wrap(records(n.child))}"
        if isinstance(n, Or):
            return " UNION ".join(wrap(records(c)) for c in n.children)
        if isinstance(n, And):
            positives = [c for c in n.children if not isinstance(c, Not)]
            negatives = [c.child for c in n.children if isinstance(c, Not)]
            sql = " INTERSECT ".join(wrap(records(c)) for c in positives) if positives else wrap(universe_sql)
            for negative in negatives:
                sql = f"{wrap(sql)} EXCEPT {wrap(records(negative))}"
            return sql
        raise TypeError(f"not a query node: {n!r}")

    leaves = _positive_leaves(node)
    rank_match = " OR ".join(dict.fromkeys(leaves)) if leaves else None
    exact = _fts_expression(node, per_doc=per_doc)
    if exact is not None:
        # The query is one FTS5 expression: the ranking query finds exactly its records.
        return CompiledQuery(records_sql=bind(exact), rank_match=exact, rank_is_exact=True)
    return CompiledQuery(records_sql=records(node), rank_match=rank_match, rank_is_exact=False)
