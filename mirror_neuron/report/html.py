"""``report.html``: one self-contained page (inline CSS, plots as data URIs, no script, no network).

Every text that reaches the page is escaped: tables hold miner completions, which are adversarial.
A Content-Security-Policy forbids scripts and any outside resource as a second line of defence.
"""

from __future__ import annotations

import base64
import html
import json
import numbers
from pathlib import Path
from typing import Any

from mirror_neuron.report.compare import ABSENT, Comparison, VerdictRow, verdict_change
from mirror_neuron.report.model import (
    CELL_CHARS,
    FIRST_ROWS,
    FULL_TABLE_ROWS,
    SENTENCE_CHARS,
    RunView,
    StepView,
    TableView,
    cell_text,
    estimate_text,
    figure_text,
    flags,
)
from mirror_neuron.verdicts import COLUMNS, Verdict, tone

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
SHOWN_FILES = 200
NONE = "<span class=\"muted\">none</span>"
NARROW_COLUMNS = 6  # tables with at most this many columns wrap their cells
NARROW_CELL_CHARS = 300

CSS = """
:root { --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0b4f8a; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--text);
       font: 15px/1.5 -apple-system, "Segoe UI", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 28px 64px; }
h1 { font-size: 30px; margin: 4px 0 6px; }
h2 { font-size: 24px; margin: 40px 0 12px; padding-top: 14px; border-top: 2px solid var(--line); }
h3 { font-size: 18px; margin: 26px 0 8px; }
h4 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.kicker { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .06em; text-transform: uppercase; }
.muted, .note { color: var(--muted); }
.note { font-size: 13px; margin: 4px 0; }
.warning { background: #fff4e5; border-left: 4px solid #d97706; padding: 8px 12px; }
code, pre, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 12px 14px; overflow: auto; max-height: 520px;
      white-space: pre; }
nav.toc { background: var(--soft); border: 1px solid var(--line); padding: 10px 20px; margin: 20px 0; }
nav.toc h2 { border: 0; margin: 4px 0; padding: 0; font-size: 16px; }
nav.toc ol { margin: 4px 0; padding-left: 22px; }
nav.toc li { margin: 2px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; margin: 6px 0 10px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
table.wide td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
table.verdicts { width: 100%; font-size: 14px; }
table.verdicts td.sentence { font-size: 15px; min-width: 320px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
         background: #e8eef5; color: #24466b; white-space: nowrap; }
.badge.alarm { background: #fde2e1; color: #a1150f; }
.badge.caution { background: #fff0d6; color: #8a4b00; }
.badge.quiet { background: #eceff2; color: #3d4650; }
.badge.broken { background: #3d4650; color: #fff; }
.badge.good { background: #dcf5e3; color: #1a6b34; }
.badge.notable { background: #dcebfa; color: #0b4f8a; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px; }
.figures div { border: 1px solid var(--line); padding: 6px 10px; }
.figures .k { display: block; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.figures .v { font-size: 17px; font-variant-numeric: tabular-nums; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); padding: 8px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; text-align: center; margin-top: 4px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
.status-computed { color: #1a7f37; } .status-resumed { color: #9a6700; } .status-reused { color: var(--muted); }
.status-missing { color: #a1150f; }
"""


def render_html(run: RunView) -> str:
    """The whole page for ``run``: the verdicts and the plots they rest on first, then the run's facts."""
    parts = [_head(run), "<body><main>", _header(run)]
    if any(s.verdicts is not None for s in run.steps):
        parts.append(_all_verdicts(run))
    parts += [_toc(run), _experiment(run), _steps_table(run)]
    parts += [_step(run, step) for step in run.steps]
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _head(run: RunView) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(run.name)} · Mirror Neuron report</title><style>{CSS}</style></head>")


def _header(run: RunView) -> str:
    finished = run.index.get("finished_at")
    state = "finished" if run.index.get("ok", True) else "stopped early"
    line = f"{len(run.steps)} step(s), {state}" + (f" at {esc(finished)}" if finished else "")
    return (f"<header><p class=\"kicker\">Mirror Neuron run report</p><h1>{esc(run.name)}</h1>"
            f"<p class=\"muted\">{line}</p></header>")


def _anchor(step: StepView) -> str:
    return "step-" + esc(step.id)


def _toc(run: RunView) -> str:
    items = ["<li><a href=\"#experiment\">Experiment</a></li>", "<li><a href=\"#steps\">Steps</a></li>"]
    if any(s.verdicts is not None for s in run.steps):
        items.append("<li><a href=\"#verdicts\">Verdicts</a></li>")
    steps = "".join(f"<li><a href=\"#{_anchor(s)}\">{esc(s.id)}</a> <span class=\"muted\">{esc(s.section)}</span></li>"
                    for s in run.steps)
    items.append(f"<li>Step outputs<ol>{steps}</ol></li>")
    return f"<nav class=\"toc\"><h2>Contents</h2><ol>{''.join(items)}</ol></nav>"


def _facts(pairs: list[tuple[str, str]]) -> str:
    """A definition list; the values are already HTML."""
    return "<dl class=\"facts\">" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _mono(value: Any) -> str:
    return f"<code>{esc(value)}</code>" if value not in (None, "") else "<span class=\"muted\">not recorded</span>"


def _experiment(run: RunView) -> str:
    index, info = run.index, run.experiment
    tags = ", ".join(esc(t) for t in info.get("tags") or []) or NONE
    pairs = [("name", esc(run.name)), ("config", _mono(index.get("config"))),
             ("seed", esc(info.get("seed", ""))), ("tags", tags),
             ("tracking", _mono(index["tracking"]) if index.get("tracking") else NONE),
             ("version", _mono(index.get("version"))), ("git commit", _mono(index.get("git_commit"))),
             ("started", esc(index.get("started_at") or "")), ("finished", esc(index.get("finished_at") or "")),
             ("output folder", _mono(run.out))]
    if index.get("overrides"):
        pairs.insert(2, ("overrides", " ".join(_mono(o) for o in index["overrides"])))
    if index.get("selected"):
        pairs.insert(2, ("steps selected", _mono(index["selected"])))
    text = index.get("config_text")
    config = (f"<details open><summary>Config text</summary><pre>{esc(text)}</pre></details>" if text
              else "<p class=\"note\">The config text was not recorded in run.json.</p>")
    return f"<section id=\"experiment\"><h2>Experiment</h2>{_facts(pairs)}{config}</section>"


def _status(status: str) -> str:
    known = status if status in ("computed", "resumed", "reused", "missing") else ""
    return f"<span class=\"status-{known}\">{esc(status)}</span>" if known else esc(status)


def _steps_table(run: RunView) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("step", "section", "entrypoint", "status", "rows", "seconds",
                                            "fingerprint"))
    body = []
    for s in run.steps:
        rows = ", ".join(f"{esc(t)}: {n:,}" for t, n in s.rows.items()) or NONE
        seconds = f"{s.seconds:.1f}" if isinstance(s.seconds, (int, float)) else ""
        status = _status("missing" if s.output is None else s.status)
        if run.earlier(s):
            status += f" <span class=\"muted\">(by an earlier run, started {esc(run.earlier(s))})</span>"
        body.append(f"<tr><td><a href=\"#{_anchor(s)}\">{esc(s.id)}</a></td><td>{esc(s.section)}</td>"
                    f"<td><code>{esc(s.entrypoint)}</code></td><td>{status}</td><td>{rows}</td>"
                    f"<td class=\"num\">{seconds}</td><td class=\"mono\" title=\"{esc(s.fingerprint)}\">"
                    f"{esc(s.fingerprint[:12])}</td></tr>")
    for step_id in run.not_run:
        body.append(f"<tr><td>{esc(step_id)}</td><td colspan=\"6\" class=\"muted\">not run: the run stopped "
                    "before this step</td></tr>")
    return (f"<section id=\"steps\"><h2>Steps</h2><div class=\"scroll\"><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div></section>")


def badge(verdict: str) -> str:
    """The verdict as a badge coloured by its tone (:func:`mirror_neuron.verdicts.tone`); plain when no judge
    uses the word."""
    label = cell_text(verdict, 40)
    kind = tone(label) or tone(label.lower()) or ""
    return f"<span class=\"badge {kind}\">{esc(label)}</span>"


def _verdict_cells(record: Verdict) -> str:
    flagged = "".join(f" <span class=\"badge caution\">{esc(flag)}</span>" for flag in flags(record))
    return (f"<td>{esc(cell_text(record.subject))}</td><td>{badge(record.verdict)}{flagged}</td>"
            f"<td class=\"sentence\">{esc(cell_text(record.sentence, SENTENCE_CHARS))}</td>")


def _verdicts_table(step: StepView) -> str:
    """A step's verdicts: subject, a badge, the sentence in full, the estimate with its interval, then
    the evidence."""
    table = step.verdicts
    records = step.records
    evidence = [c for c in table.frame.columns if c not in COLUMNS]
    estimates = [estimate_text(r) for r in records]
    shown = ["estimate"] if any(estimates) else []
    head = "".join(f"<th>{esc(h)}</th>" for h in ["subject", "verdict", "sentence", *shown, *evidence])
    body = "".join(f"<tr>{_verdict_cells(r)}{_estimate_cell(e) if shown else ''}"
                   f"{''.join(_td(r.evidence[c]) for c in evidence)}</tr>" for r, e in zip(records, estimates))
    more = "" if table.complete else f"<p class=\"note\">First {len(records)} of {table.rows:,} verdicts.</p>"
    return (f"<div class=\"scroll\"><table class=\"verdicts\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table></div>{more}")


def _estimate_cell(text: str) -> str:
    return f"<td class=\"num\">{esc(text)}</td>"


def _all_verdicts(run: RunView) -> str:
    """Every step's verdicts in one table at the top of the page, then the plots they rest on (a tournament's
    weight over time)."""
    body = []
    for step in run.steps:
        link = f"<td><a href=\"#{_anchor(step)}\">{esc(step.id)}</a></td>"
        body += [f"<tr>{link}{_verdict_cells(record)}</tr>" for record in step.records]
    head = "".join(f"<th>{h}</th>" for h in ("step", "subject", "verdict", "sentence"))
    plots = [p for step in run.steps for p in step.lead_plots]
    lead = f"<div class=\"plots\">{''.join(plot_figure(p) for p in plots)}</div>" if plots else ""
    return ("<section id=\"verdicts\"><h2>Verdicts</h2><p class=\"note\">Every step's verdicts; each step's "
            "section below gives their figures.</p><div class=\"scroll\"><table class=\"verdicts\"><thead><tr>"
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{lead}</section>")


def _td(value: Any, limit: int = CELL_CHARS) -> str:
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
    text = esc(cell_text(value, limit))
    return f"<td class=\"num\">{text}</td>" if numeric else f"<td>{text}</td>"


def _table(table: TableView) -> str:
    """A table's rows (all, or the first of a big table). A narrow table's cells wrap and keep more text; a wide
    one shows one line per row, shortened, and scrolls sideways."""
    frame = table.frame
    shown = "all rows" if table.complete else f"first {len(frame)} of {table.rows:,} rows"
    narrow = len(frame.columns) <= NARROW_COLUMNS
    kind, limit = ("", NARROW_CELL_CHARS) if narrow else (" class=\"wide\"", CELL_CHARS)
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(_td(v, limit) for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return (f"<h4>{esc(table.name)} <span class=\"muted\">({table.rows:,} rows; {shown})</span></h4>"
            f"<div class=\"scroll\"><table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def plot_figure(path: Path) -> str:
    """A PNG embedded as a figure with its name as caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img alt=\"{esc(path.stem)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{esc(path.stem)}</figcaption></figure>")


def _manifest(run: RunView, step: StepView) -> str:
    manifest = step.manifest
    upstream = []
    for name, fp in (manifest.get("upstream") or {}).items():
        target = run.step(name)
        label = f"<a href=\"#{_anchor(target)}\">{esc(name)}</a>" if target else esc(name)
        upstream.append(f"{label} <code>{esc(str(fp)[:12])}</code>")
    pairs = [("fingerprint", _mono(manifest.get("fingerprint") or step.fingerprint)),
             ("upstream", ", ".join(upstream) or NONE),
             ("version", _mono(manifest.get("version"))), ("git commit", _mono(manifest.get("git_commit"))),
             ("started", esc(manifest.get("started_at", ""))), ("finished", esc(manifest.get("finished_at", ""))),
             ("resumed from chunk", esc(manifest.get("resumed_from_chunk", ""))),
             ("stored at", _mono(step.output.path.resolve() if step.output else ""))]
    files = manifest.get("files") or []
    total = sum(int(f.get("bytes", 0)) for f in files)
    listed = "".join(f"<tr><td class=\"mono\">{esc(f.get('path', ''))}</td><td class=\"num\">"
                     f"{int(f.get('bytes', 0)):,}</td><td class=\"mono\">{esc(str(f.get('sha256', ''))[:16])}</td></tr>"
                     for f in files[:SHOWN_FILES])
    more = f"<p class=\"note\">and {len(files) - SHOWN_FILES:,} more files</p>" if len(files) > SHOWN_FILES else ""
    files_html = (f"<details><summary>{len(files):,} file(s), {_bytes(total)}</summary><div class=\"scroll\"><table>"
                  f"<thead><tr><th>path</th><th>bytes</th><th>sha256</th></tr></thead><tbody>{listed}</tbody>"
                  f"</table></div>{more}</details>") if files else "<p class=\"note\">No files besides its tables.</p>"
    config = json.dumps(manifest.get("config", {}), indent=2, sort_keys=True, default=str)
    return (f"<h3>Manifest</h3>{_facts(pairs)}{files_html}"
            f"<details><summary>Resolved config</summary><pre>{esc(config)}</pre></details>")


def _bytes(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return ""


def _step(run: RunView, step: StepView) -> str:
    parts = [f"<section id=\"{_anchor(step)}\" class=\"step\"><h2>{esc(step.id)}</h2>",
             f"<p class=\"muted\">{esc(step.section)} · <code>{esc(step.entrypoint)}</code> · {_status(step.status)}"
             f" · <span class=\"mono\">{esc(step.fingerprint[:12])}</span></p>"]
    if step.problem:
        parts.append(f"<p class=\"warning\">{esc(step.problem)}</p>")
    if step.verdicts is not None:
        parts.append(f"<h3>Verdicts</h3>{_verdicts_table(step)}")
    if step.validator:
        parts.append("<h3>Validator</h3><ul>" + "".join(f"<li>{esc(line)}</li>" for line in step.validator) + "</ul>")
    if step.summary:
        figures = "".join(f"<div><span class=\"k\">{esc(k)}</span><span class=\"v\">{esc(figure_text(v))}</span></div>"
                          for k, v in step.summary.items())
        parts.append(f"<h3>Summary</h3><div class=\"figures\">{figures}</div>")
    plots = [p for p in step.plots if p not in step.lead_plots]
    if plots or step.lead_plots:
        lead = (f"<p class=\"note\">{', '.join(esc(p.stem) for p in step.lead_plots)}: shown with the verdicts at "
                "the top.</p>") if step.lead_plots else ""
        shown = f"<div class=\"plots\">{''.join(plot_figure(p) for p in plots)}</div>" if plots else ""
        parts.append(f"<h3>Plots</h3>{lead}{shown}")
    if step.tables:
        note = (f"<p class=\"note\">Tables of up to {FULL_TABLE_ROWS} rows are shown whole, larger ones by their "
                f"first {FIRST_ROWS} rows; long cells are shortened.</p>")
        parts.append("<h3>Tables</h3>" + note + "".join(_table(t) for t in step.tables))
    if step.output is not None:
        parts.append(_manifest(run, step))
    parts.append("</section>")
    return "\n".join(parts)


def comparison_section(comparison: Comparison, changed_only: bool = False) -> str:
    """Two runs side by side as one ``<section>`` of a page (a sweep's report): the config keys that differ,
    then per step its figures (A, B, delta) and its verdicts (badges, estimates, flipped, overlap)."""
    a, b = comparison.a, comparison.b
    parts = [f"<section class=\"comparison\"><h2>{esc(a.name)} and {esc(b.name)}</h2>",
             _facts([("A", _mono(a.out)), ("B", _mono(b.out))])]
    if comparison.config:
        rows = "".join(f"<tr><td><code>{esc(c.key)}</code></td>{_td(_shown(c.a))}{_td(_shown(c.b))}</tr>"
                       for c in comparison.config)
        parts.append(f"<h3>Config</h3><div class=\"scroll\"><table><thead><tr><th>key</th><th>A</th><th>B</th>"
                     f"</tr></thead><tbody>{rows}</tbody></table></div>")
    else:
        parts.append("<h3>Config</h3><p class=\"note\">The same in both runs.</p>")
    for step in comparison.steps:
        parts.append(f"<h3>{esc(step.id)} <span class=\"muted\">({esc(step.state)})</span></h3>")
        figures, verdicts = step.shown(changed_only)
        if figures:
            rows = "".join(f"<tr><td>{esc(f.name)}</td>{_td(_shown(f.a))}{_td(_shown(f.b))}"
                           f"{_td(f.delta if f.delta is not None else '')}</tr>" for f in figures)
            parts.append("<div class=\"scroll\"><table><thead><tr><th>figure</th><th>A</th><th>B</th><th>delta</th>"
                         f"</tr></thead><tbody>{rows}</tbody></table></div>")
        if verdicts:
            rows = "".join(f"<tr><td>{esc(cell_text(v.subject))}</td>{_side(v, 'a')}{_side(v, 'b')}"
                           f"<td>{esc(verdict_change(v))}</td></tr>" for v in verdicts)
            parts.append("<div class=\"scroll\"><table class=\"verdicts\"><thead><tr><th>subject</th><th>A</th>"
                         f"<th>B</th><th>change</th></tr></thead><tbody>{rows}</tbody></table></div>")
    parts.append("</section>")
    return "\n".join(parts)


def _shown(value: Any) -> Any:
    return "(absent)" if value is ABSENT else value


def _side(row: VerdictRow, side: str) -> str:
    record: Verdict | None = getattr(row, side)
    if record is None:
        return f"<td>{NONE}</td>"
    estimate = estimate_text(record)
    return f"<td>{badge(record.verdict)}" + (f" <span class=\"mono\">{esc(estimate)}</span>" if estimate else "") \
        + "</td>"
