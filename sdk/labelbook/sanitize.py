"""Untrusted notebook text made safe: URLs, HTML fragments, and markdown handed to another renderer.

The notebook is untrusted text:
- HTML output is sanitized with nh3 (an allow-list: no `<script>`, no `on*=` handlers, no
  `javascript:` or non-image `data:` URLs);
- markdown output (`clean_markdown`): top-level raw HTML blocks are sanitized with nh3, inline
  raw HTML is escaped (shown as text), and link destinations with unsafe schemes become
  `#blocked-url`. Code blocks and fences are left exactly as written.
"""

from __future__ import annotations

import html
import re

from labelbook.markup import source_parser

__all__ = ["BLOCKED_URL", "clean_markdown", "safe_url", "sanitize_html"]

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SAFE_DATA = re.compile(r"^data:image/(?:png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=]*$", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Browsers drop ASCII tabs and newlines anywhere in a URL and trim controls and spaces around it.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
BLOCKED_URL = "#blocked-url"


def safe_url(url: object) -> str:
    """`url` if it is relative, http(s), mailto or an inline raster image; `#blocked-url` otherwise."""
    if not isinstance(url, str):
        return BLOCKED_URL
    probe = _URL_NOISE.sub("", html.unescape(url))
    match = _SCHEME.match(probe)
    if match is None:
        return url
    scheme = match.group(1).lower()
    if scheme in _SAFE_SCHEMES or (scheme == "data" and _SAFE_DATA.match(probe)):
        return url
    return BLOCKED_URL


_ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
        "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
        "samp", "section", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"id", "class", "title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "scope", "style"},
    "col": {"span"},
    "colgroup": {"span"},
}


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src"):
        return None if safe_url(value) == BLOCKED_URL else value
    return value


def sanitize_html(fragment: str) -> str:
    """An HTML fragment with only safe tags, attributes and URLs left (nh3, an allow-list)."""
    import nh3

    return nh3.clean(
        fragment,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties={"text-align"},
        link_rel=None,
    )


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_DESTINATIONS = (
    re.compile(r"\]\(\s*(<[^>\n]*>|(?:[^\s()]|\([^\s()]*\))+)"),  # [text](dest, one level of (...)
    re.compile(r"^[ \t]{0,3}(?:>[ \t]*)*\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)", re.M),  # [ref]: dest
    re.compile(r"(<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*>)"),  # <scheme:autolink>
)


def _escape_tags(text: str) -> str:
    return _TAG_START.sub("&lt;", text)


def _block_unsafe_destinations(text: str) -> str:
    for pattern in _DESTINATIONS:

        def replace(match: re.Match[str]) -> str:
            dest = match.group(1)
            url = dest[1:-1] if dest.startswith("<") and dest.endswith(">") else dest
            if safe_url(url) != BLOCKED_URL:
                return match.group(0)
            start, end = match.span(1)
            whole = match.group(0)
            offset = match.start()
            return whole[: start - offset] + BLOCKED_URL + whole[end - offset :]

        text = pattern.sub(replace, text)
    return text


def clean_markdown(text: str) -> str:
    """Markdown safe to hand to another renderer: raw HTML sanitized or escaped, unsafe links blocked.

    Code blocks and fences are left exactly as written.
    """
    if "<" not in text and _block_unsafe_destinations(text) == text:
        return text  # no raw HTML and no unsafe link: nothing to parse for
    lines = text.split("\n")
    # first line → (end line, replacement lines); other lines keep their text.
    replaced: dict[int, tuple[int, list[str]]] = {}
    verbatim: set[int] = set()
    for token in source_parser().parse(text):
        if not token.map:
            continue
        first, last = token.map
        if token.type in ("fence", "code_block"):
            verbatim.update(range(first, last))
        elif token.type == "html_block" and token.level == 0:
            cleaned = re.sub(r"\n\s*\n", "\n", sanitize_html(token.content).strip("\n"))
            replaced[first] = (last, cleaned.split("\n") if cleaned else [])
        elif token.type == "html_block":
            replaced[first] = (last, [_escape_tags(line) for line in lines[first:last]])
        elif token.type == "inline" and token.children and first not in replaced:
            raw = [c.content for c in token.children if c.type == "html_inline"]
            if raw:
                block = "\n".join(lines[first:last])
                for tag in dict.fromkeys(raw):
                    block = block.replace(tag, _escape_tags(tag)) if tag in block else _escape_tags(block)
                replaced[first] = (last, block.split("\n"))
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in replaced:
            last, new = replaced[i]
            out += [_block_unsafe_destinations(line) for line in new]
            i = last
            continue
        out.append(lines[i] if i in verbatim else _block_unsafe_destinations(lines[i]))
        i += 1
    return "\n".join(out)
