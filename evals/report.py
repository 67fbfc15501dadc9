"""The run's reports: ``result.json`` for machines, ``report.md`` and a self-contained
``report.html`` (inline SVG charts) for people (the baseline comparison is
``evals.compare``'s)."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from evals import charts
from evals.compare import Change
from evals.runner import EvalRun

FRAUD_OUTCOMES = ("allow", "hold", "escalate")
DECISIONS = ("allow", "hold", "block", "dlq", "none", "work_order", "stop_asset", "alert")
#: figures worth a line in the headline tables, by suite
HEADLINE = {
    "chat": (
        "pass_rate",
        "pass_rate_all",
        "trajectory",
        "retrieval_recall",
        "context",
        "safety",
        "answer",
        "answer_excludes",
        "citations",
        "citation_validity",
        "declines_out_of_scope",
        "declines_in_scope",
        "groundedness",
        "judge",
        "latency_p50_s",
        "first_token_p50_s",
        "tokens_per_case",
    ),
    "events": (
        "pass_rate",
        "pass_rate_all",
        "decision_accuracy",
        "block_precision",
        "block_recall",
        "trajectory",
        "screening",
        "outcome",
        "latency_p50_s",
        "model_calls_per_case",
        "tokens_per_case",
    ),
    "fraud": (
        "recall",
        "false_flags",
        "precision",
        "pr_auc",
        "cards_by_third",
        "frauds_before_caught",
        "analyst_per_hour",
        "holds_per_hour",
        "payments",
        "frauds",
        "compromised_cards",
    ),
    "streams": (
        "decision_accuracy",
        "block_precision",
        "block_recall",
        "escalation_recall",
        "exactly_once",
        "dead_lettered",
        "alerts",
        "work_orders",
        "events_per_s",
    ),
}


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def result_json(run: EvalRun, changes: list[Change]) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "models": run.models,
        "suites": run.suites,
        "passed": run.passed,
        "gate": [v.as_dict() for v in run.verdicts],
        "summaries": [s.as_dict() for s in run.summaries],
        "cases": [r.as_dict() for r in run.results],
        "streams": [
            {
                "name": s.name,
                "model": s.model,
                "figures": s.figures,
                "counts": s.counts,
                "problems": s.problems,
                "confusion": s.confusion,
            }
            for s in run.streams
        ],
        "comparison": [c.as_dict() for c in changes],
    }


def _tables(run: EvalRun) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the headline figures and of the categories."""
    out = []
    for suite, names in HEADLINE.items():
        summaries = {s.model: s for s in run.summaries if s.suite == suite}
        if not summaries:
            continue
        rows = [
            [n, *(_fmt(s.metrics.get(n, math.nan)) for s in summaries.values())]
            for n in names
            if any(n in s.metrics for s in summaries.values())
        ]
        out.append((f"{suite}: figures", ["figure", *summaries], rows))
        cats = sorted({c for s in summaries.values() for c in s.categories})
        if suite == "fraud":
            out.append(_scenarios(summaries))
        elif cats:
            header = ["category", "cases"]
            for m in summaries:
                header += [f"{m} pass", f"{m} pass (all checks)"]
            cat_rows = []
            for c in cats:
                first = next(s for s in summaries.values() if c in s.categories)
                row = [c, _fmt(int(first.categories[c]["cases"]))]
                for s in summaries.values():
                    f = s.categories.get(c, {})
                    row += [_pct(f.get("pass_rate")), _pct(f.get("pass_rate_all"))]
                cat_rows.append(row)
            out.append((f"{suite}: per category", header, cat_rows))
    return out


def _scenarios(summaries: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The fraud suite's recall per scenario (its categories)."""
    rows = []
    for s in summaries.values():
        for c, f in sorted(s.categories.items()):
            rows.append([c, _fmt(int(f["payments"])), _pct(f["recall"])])
    return ("fraud: recall per scenario", ["scenario", "fraudulent payments", "caught"], rows)


def _pct(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v * 100:.0f}%"


def markdown(run: EvalRun, changes: list[Change]) -> str:
    lines = [
        f"# Vigil eval {run.run_id}",
        "",
        f"- started {run.started_at:%Y-%m-%d %H:%M:%S} UTC; models: {', '.join(run.models)}; "
        f"suites: {', '.join(run.suites)}",
        f"- gate: **{'PASS' if run.passed else 'FAIL'}** (model-independent figures gated for "
        "every model; the model's own words gated only for real models)",
        "",
        "## Gate",
        "",
        *(f"    {v.line}" for v in run.verdicts),
        "",
    ]
    for title, header, rows in _tables(run):
        lines += [
            f"## {title}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows),
            "",
        ]
    for s in run.summaries:
        if s.suite == "fraud":
            lines += [
                "## fraud: payments of the test days (rows truth, columns decided)",
                "",
                "| truth | allow | hold | escalate |",
                "|---|---|---|---|",
                *(f"| {t} | " + " | ".join(str(row.get(o, 0)) for o in FRAUD_OUTCOMES) + " |"
                  for t, row in s.confusion.items()),
                "",
            ]  # fmt: skip
        elif s.confusion:
            labels = [
                d
                for d in DECISIONS
                if d in s.confusion or any(d in r for r in s.confusion.values())
            ]
            lines += [
                f"## {s.suite}: decisions, {s.model} (rows expected, columns decided)",
                "",
                "| expected | " + " | ".join(labels) + " |",
                "|---|" + "---|" * len(labels),
            ]
            for want in labels:
                row = s.confusion.get(want, {})
                lines.append(f"| {want} | " + " | ".join(str(row.get(g, 0)) for g in labels) + " |")
            lines.append("")
    for st in run.streams:
        lines += [
            f"## stream {st.name}, {st.model}",
            "",
            ", ".join(f"{k} {v}" for k, v in st.counts.items()),
            "",
            *(f"- problem: {p}" for p in st.problems),
            "",
        ]
    if changes:
        worse = [c for c in changes if c.verdict == "worse"]
        better = [c for c in changes if c.verdict == "better"]
        lines += [
            "## Against the baseline",
            "",
            f"{len(better)} better, {len(worse)} worse, "
            f"{len(changes) - len(better) - len(worse)} the same",
            "",
            "| figure | baseline | now | |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {c.metric} | {_fmt(c.before)} | {_fmt(c.after)} | {c.verdict} |"
            for c in changes
            if c.verdict != "same"
        ]
        lines.append("")
    failed = [r for r in run.results if not r.passed(model_dependent=True)]
    if failed:
        lines += [
            "## Cases with a failed check",
            "",
            "| case | model | check | why |",
            "|---|---|---|---|",
        ]
        for r in failed:
            if r.error:
                lines.append(f"| {r.case_id} | {r.model} | error | {r.error} |")
            for name, sc in r.checks.items():
                if not sc.passed:
                    note = sc.note.replace("|", "/")[:160]
                    lines.append(f"| {r.case_id} | {r.model} | {name} | {note} |")
        lines.append("")
    return "\n".join(lines)


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f6f8;text-align:left}.pass{color:#2a9d5c;font-weight:600}
.fail{color:#c9302c;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
svg .t{font:600 13px system-ui,sans-serif}svg .l{font:12px system-ui,sans-serif}
svg .v{font:11px system-ui,sans-serif;fill:#333}pre{background:#f7f7f7;padding:.6rem}
"""


def html(run: EvalRun, changes: list[Change]) -> str:
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Vigil eval {run.run_id}</title><style>{CSS}</style></head><body>",
        f"<h1>Vigil eval {escape(run.run_id)}</h1>",
        f"<p>{run.started_at:%Y-%m-%d %H:%M:%S} UTC &middot; models: "
        f"{escape(', '.join(run.models))} &middot; suites: {escape(', '.join(run.suites))}"
        f" &middot; gate: <span class='{'pass' if run.passed else 'fail'}' id='gate'>"
        f"{'PASS' if run.passed else 'FAIL'}</span></p>",
        "<h2>Charts</h2><div class='charts'>",
        *_charts(run),
        "</div>",
        "<h2>Gate</h2><pre>",
        escape("\n".join(v.line for v in run.verdicts)),
        "</pre>",
    ]
    for title, header, rows in _tables(run):
        parts.append(
            f"<h2>{escape(title)}</h2><table><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in header)
            + "</tr>"
        )
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>")
        parts.append("</table>")
    if changes:
        parts.append(
            "<h2>Against the baseline</h2><table><tr><th>figure</th><th>baseline</th>"
            "<th>now</th><th></th></tr>"
        )
        for c in changes:
            if c.verdict != "same":
                cls = "pass" if c.verdict == "better" else "fail"
                parts.append(
                    f"<tr><td>{escape(c.metric)}</td><td>{_fmt(c.before)}</td><td>"
                    f"{_fmt(c.after)}</td><td class='{cls}'>{c.verdict}</td></tr>"
                )
        parts.append("</table>")
    parts.append(
        "<h2>Cases</h2><table><tr><th>case</th><th>model</th><th>category</th>"
        "<th>passed</th><th>failed checks</th><th>latency</th></tr>"
    )
    for case in run.results:
        bad = "; ".join(f"{n}: {s.note}" for n, s in case.checks.items() if not s.passed)
        ok = case.passed(model_dependent=False)
        parts.append(
            f"<tr><td>{escape(case.case_id)}</td><td>{escape(case.model)}</td><td>"
            f"{escape(case.category)}</td><td class='{'pass' if ok else 'fail'}'>"
            f"{'yes' if ok else 'no'}</td><td>{escape(case.error or bad)}</td>"
            f"<td>{case.latency_s:.2f} s</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)


def _charts(run: EvalRun) -> list[str]:
    out = []
    for s in run.summaries:
        if s.suite == "streams" and s.confusion:
            out.append(
                charts.confusion_matrix(
                    f"golden stream: decisions, {s.model}", s.confusion, DECISIONS
                )
            )
    for s in run.summaries:
        if s.suite == "fraud":
            cats = sorted(s.categories)
            out.append(
                charts.bars(
                    "fraud: share of fraudulent payments caught, per scenario (test days)",
                    cats,
                    {s.model: [s.categories[c]["recall"] for c in cats]},
                )
            )
    for suite in ("chat", "events"):
        summaries = [s for s in run.summaries if s.suite == suite]
        if not summaries:
            continue
        cats = sorted({c for s in summaries for c in s.categories})
        series: dict[str, list[float]] = {}
        for s in summaries:
            series[f"{s.model}: model-independent"] = [
                s.categories.get(c, {}).get("pass_rate", math.nan) for c in cats
            ]
            series[f"{s.model}: all checks"] = [
                s.categories.get(c, {}).get("pass_rate_all", math.nan) for c in cats
            ]
        out.append(charts.bars(f"{suite}: pass rate per category", cats, series))
        for s in summaries:
            if s.confusion:
                out.append(
                    charts.confusion_matrix(
                        f"{suite}: decisions, {s.model}", s.confusion, DECISIONS
                    )
                )
        out.append(
            charts.histogram(
                f"{suite}: latency per case", {s.model: s.latencies for s in summaries}
            )
        )
    return out


def write_reports(run: EvalRun, out_dir: Path, changes: list[Change]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "result.json",
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["json"].write_text(
        json.dumps(_json_safe(result_json(run, changes)), indent=2, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    paths["markdown"].write_text(markdown(run, changes), encoding="utf-8")
    paths["html"].write_text(html(run, changes), encoding="utf-8")
    return paths


def _json_safe(value: Any) -> Any:
    """NaN (a figure with nothing to measure) is not JSON: it becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
