"""Reports of scored predictions: JSON with every number, Markdown and a standalone HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..interfaces import Scorer
from ..textio import write_json, write_text


def write_report(
    metrics: Path, report: Path, title: str, scorers: Sequence[Scorer], results: dict[str, Any], with_html: bool = True
) -> list[Path]:
    """Write the numbers (``metrics``, JSON), then ``report`` with ``.md`` and ``.html``; return the paths written.

    The Markdown and HTML files are written first and the metrics last, so a run killed
    in between leaves no metrics file beside reports of another run.
    """
    metrics.unlink(missing_ok=True)
    written = [report.with_suffix(".md")]
    write_text(written[0], markdown_report(title, scorers, results))
    if with_html:
        written.append(report.with_suffix(".html"))
        write_text(written[1], html_report(title, scorers, results))
    write_json(metrics, results)
    return [metrics, *written]


def markdown_report(title: str, scorers: Sequence[Scorer], results: dict[str, Any]) -> str:
    c = results["counts"]
    lines = [
        f"# {title}",
        "",
        f"{c['sentences']} sentences, {c['tokens']} tokens; "
        f"{sum(c['gold_entities'].values())} gold and {sum(c['predicted_entities'].values())} predicted entities; "
        f"{c['sentences_with_diagnostics']} sentences with parse diagnostics.",
        "",
    ]
    if results.get("setup"):
        lines += ["Answers from " + ", ".join(f"{key} `{value}`" for key, value in results["setup"].items()) + ".", ""]
    for warning in results.get("warnings", []):
        lines += [f"> **Warning:** {warning}", ""]
    if c["diagnostics"]:
        lines += ["| diagnostic | count |", "| --- | --- |"]
        lines += [f"| {kind} | {n} |" for kind, n in c["diagnostics"].items()]
        lines.append("")
    for scorer in scorers:
        lines += [scorer.markdown(results[scorer.name]), ""]
    return "\n".join(lines)


def html_report(title: str, scorers: Sequence[Scorer], results: dict[str, Any]) -> str:
    """A standalone HTML page: the counts, then each scorer's ``html(result)`` section."""
    sections = [f"<section>{scorer.html(results[scorer.name])}</section>" for scorer in scorers]
    summary = markdown_report(title, [], results).split("\n", 2)[2].strip()
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}code{background:#f4f4f4}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><pre>{html.escape(summary)}</pre>{''.join(sections)}</body></html>\n"
    )
