"""Draws docs/img/pipeline-stages.svg (the book-qa pipeline's stages): python docs/img/make_pipeline_svg.py"""
# ruff: noqa: E501  (SVG markup reads better on one line)

from pathlib import Path

BOXES = [
    ("passages", "records (source)", "#eeeeee", "passages.jsonl"),
    ("answer", "stage · team writers", "#d8ecff", "overlap 3 · own dataset"),
    ("draft", "step · stand-in model", "#fff2cc", "version stand-in-1"),
    ("review", "stage · team reviewers", "#d9f2d9", "overlap 1 · own dataset"),
]
W, H, GAP, TOP = 170, 74, 46, 30
parts = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(BOXES) * (W + GAP) + 10}" height="200" '
    'font-family="Helvetica, Arial, sans-serif" font-size="12">',
    '<defs><marker id="a" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
    '<path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>',
]
for i, (name, kind, colour, note) in enumerate(BOXES):
    x = 10 + i * (W + GAP)
    parts.append(f'<rect x="{x}" y="{TOP}" width="{W}" height="{H}" rx="8" fill="{colour}" stroke="#444"/>')
    parts.append(
        f'<text x="{x + W / 2}" y="{TOP + 24}" text-anchor="middle" font-size="15" font-weight="bold">{name}</text>'
    )
    parts.append(f'<text x="{x + W / 2}" y="{TOP + 44}" text-anchor="middle">{kind}</text>')
    parts.append(f'<text x="{x + W / 2}" y="{TOP + 62}" text-anchor="middle" fill="#555">{note}</text>')
    if i:
        parts.append(
            f'<line x1="{x - GAP + 2}" y1="{TOP + H / 2}" x2="{x - 4}" y2="{TOP + H / 2}" stroke="#444" '
            'stroke-width="1.5" marker-end="url(#a)"/>'
        )
labels = ["published", "finished items", "records made"]
for i, label in enumerate(labels):
    x = 10 + (i + 1) * (W + GAP) - GAP / 2
    parts.append(
        f'<text x="{x}" y="{TOP - 8}" text-anchor="middle" fill="#444" font-size="11">{label}</text>'
    )
parts.append(
    f'<text x="10" y="{TOP + H + 40}" fill="#333">log.jsonl (append-only, 0600): made · moved · route · failed '
    "— lineage and worker identities stay here, never on the reviewers' server records</text>"
)
parts.append(
    f'<text x="10" y="{TOP + H + 62}" fill="#333">routing: Qualify / Demote (gold accuracy, Wilson interval) · '
    "Separate(answer, review) · Cap · pipe.assign — every decision logged with its reason</text>"
)
parts.append("</svg>")
Path(__file__).with_name("pipeline-stages.svg").write_text("\n".join(parts) + "\n", encoding="utf-8")
