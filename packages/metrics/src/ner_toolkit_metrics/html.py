"""HTML sections for reports: the Markdown section as HTML, plus an inline SVG per-label chart.

Core's ``evaluate.html_report`` calls a scorer's ``html(result)`` when it has one; scorers
here get it from ``HtmlSection``. No template engine or JavaScript: one self-contained page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`([^`]+)`"), r"<code>\1</code>")]
COLOURS = {"precision": "#4c78a8", "recall": "#f58518", "f1": "#54a24b"}


def _inline(text: str) -> str:
    text = html.escape(text)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def markdown_to_html(markdown: str) -> str:
    """The small Markdown subset the scorers write: headings, tables, lists, paragraphs, bold, code."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            head, body = rows[0], [r for r in rows[2:]]
            out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body]
            out.append("</table>")
            continue
        elif line.startswith("- ") or line.startswith("  - "):
            out.append("<ul>")
            while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  - ")):
                out.append(f"<li>{_inline(lines[i].strip()[2:])}</li>")
                i += 1
            out.append("</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def bar_chart(per_type: Mapping[str, Mapping[str, Any]], title: str, metrics: tuple[str, ...] = ("precision", "recall", "f1")) -> str:
    """A grouped horizontal bar chart (inline SVG) of ``metrics`` in [0, 1] for each label."""
    bar, gap, left, width = 12, 10, 110, 420
    group = bar * len(metrics) + gap
    height = 30 + group * len(per_type) + 20
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 80}' height='{height}' role='img' "
             f"aria-label='{html.escape(title)}' style='font:12px sans-serif'>",
             f"<text x='0' y='14' font-weight='bold'>{html.escape(title)}</text>"]
    for k, metric in enumerate(metrics):
        parts.append(f"<rect x='{left + 110 * k}' y='{height - 14}' width='10' height='10' fill='{COLOURS.get(metric, '#888')}'/>"
                     f"<text x='{left + 110 * k + 14}' y='{height - 5}'>{metric}</text>")
    for j, (label, row) in enumerate(per_type.items()):
        y = 26 + j * group
        parts.append(f"<text x='0' y='{y + bar * len(metrics) / 2 + 4}'>{html.escape(label)}</text>")
        for k, metric in enumerate(metrics):
            value = float(row.get(metric, 0.0))
            yy = y + k * bar
            parts.append(f"<rect x='{left}' y='{yy}' width='{value * width:.1f}' height='{bar - 2}' fill='{COLOURS.get(metric, '#888')}'>"
                         f"<title>{html.escape(label)} {metric} {value:.4f}</title></rect>"
                         f"<text x='{left + value * width + 4:.1f}' y='{yy + bar - 3}'>{value:.4f}</text>")
    parts.append("</svg>")
    return "".join(parts)


class HtmlSection:
    """Mixin for scorers: ``html(result)`` is the Markdown section rendered as HTML."""

    def html(self, result: dict[str, Any]) -> str:
        return markdown_to_html(self.markdown(result))  # type: ignore[attr-defined]
