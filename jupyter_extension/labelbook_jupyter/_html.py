"""The few pieces of HTML the widgets share: a stylesheet scoped to the widgets, messages, the guide frame.

The contractor page (guide.html) is a whole document with its own stylesheet; it is shown in an
`<iframe srcdoc>` so its styles never leak into JupyterLab. Records are rendered by the same
template macros, inline, under `.lb-widget`, with the contractor page's look for those classes.
"""

from __future__ import annotations

import html

# The contractor page's styles for the markup a record uses, scoped to the widgets.
STYLE = """<style>
.lb-widget { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1b1f24; }
.lb-widget .field-title { font-weight: 600; margin: .6rem 0 .3rem; }
.lb-widget pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .7rem;
  overflow: auto; max-height: 24rem; white-space: pre-wrap; word-break: break-word; margin: .3rem 0;
  font: .85rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.lb-widget pre.shell, .lb-widget pre.output { background: #0d1117; color: #e6edf3; border-color: #0d1117; }
.lb-widget pre.shell + pre.output { margin-top: -.35rem; border-top: 1px dashed #57606a; }
.lb-widget .prompt { color: #7ee787; user-select: none; }
.lb-widget ol.chat { list-style: none; padding: 0; margin: 0; }
.lb-widget .msg { border: 1px solid #d0d7de; border-radius: 6px; padding: .35rem .7rem .5rem;
  margin: .4rem 0; }
.lb-widget .msg-role { margin: 0 0 .2rem; font-size: .75rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: .05em; color: #505a64; }
.lb-widget .role-user { background: #f6f8fa; }
.lb-widget .role-assistant { background: #fff; border-left: 4px solid #8250df; }
.lb-widget .role-tool, .lb-widget .role-shell { background: #fbfbfc; border-left: 4px solid #57606a; }
.lb-widget .role-system { background: #fff8f0; }
.lb-widget .tool-name { margin: .3rem 0 .15rem; font-size: .85rem; color: #505a64; }
.lb-widget .exit { margin: .2rem 0 0; font-size: .8rem; font-weight: 600; }
.lb-widget .exit.ok { color: #1a7f37; } .lb-widget .exit.fail { color: #b3261e; }
.lb-widget .md > p:first-child { margin-top: 0; } .lb-widget .md > p:last-child { margin-bottom: 0; }
.lb-widget img { max-width: 100%; height: auto; }
.lb-widget .muted { color: #505a64; }
.lb-widget .definition p { margin: 0; }
.lb-widget .definition { color: #33383f; }
.lb-widget .lb-question-title { font-weight: 600; margin: .6rem 0 .1rem; }
.lb-widget .lb-question-help p { margin: 0 0 .3rem; color: #505a64; }
.lb-widget .lb-message { border-radius: 6px; padding: .5rem .8rem; margin: .3rem 0; white-space: pre-wrap; }
.lb-widget .lb-error { background: #ffebe9; border: 1px solid #ff8182; color: #82071e; }
.lb-widget .lb-warning { background: #fff8c5; border: 1px solid #d4a72c; color: #4d2d00; }
.lb-widget .lb-info { background: #ddf4ff; border: 1px solid #54aeff; color: #0a3069; }
.lb-widget .lb-feedback.right { background: #dafbe1; border: 1px solid #4ac26b; color: #0f5323; }
.lb-widget .lb-feedback.wrong { background: #ffebe9; border: 1px solid #ff8182; color: #82071e; }
.lb-widget .lb-feedback { border-radius: 6px; padding: .5rem .8rem; margin: .3rem 0; }
.lb-widget .lb-feedback p { margin: .2rem 0; }
.lb-widget .lb-header { font-size: 1.05rem; font-weight: 600; }
.lb-widget table.lb-table { border-collapse: collapse; margin: .3rem 0; }
.lb-widget table.lb-table th, .lb-widget table.lb-table td { border: 1px solid #d0d7de; padding: .2rem .5rem;
  text-align: left; vertical-align: top; }
.lb-widget table.lb-table th { background: #f6f8fa; }
</style>"""


def message(text: str, kind: str = "error") -> str:
    """A message box: kind is "error", "warning" or "info"."""
    if not text:
        return ""
    role = "alert" if kind == "error" else "status"
    return f'<div class="lb-message lb-{kind}" role="{role}">{html.escape(text)}</div>'


def describe(err: BaseException) -> str:
    """An exception as one readable message (labelbook's own errors already say what to do)."""
    from labelbook.errors import LabelbookError

    if isinstance(err, LabelbookError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def guide_frame(page: str, height: int = 560) -> str:
    """The contractor page in an isolated frame (its styles stay inside)."""
    return (
        f'<iframe class="lb-guide" title="Guidelines" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #d0d7de; border-radius: 6px;"></iframe>'
    )
