"""A sweep's ``report.html``: which values change which verdicts, the points table, a heatmap of each plotted
figure over two swept keys, lines over one, and the verdict counts per point. One self-contained page in the
run report's style (:mod:`mirror_neuron.report.html`); each point's own report is linked from its row."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from mirror_neuron.errors import did_you_mean
from mirror_neuron.log import say
from mirror_neuron.report import HTML_NAME, write_atomic
from mirror_neuron.report.html import CSS, POLICY, badge, esc, plot_figure
from mirror_neuron.report.model import figure_text
from mirror_neuron.store import PLOTS
from mirror_neuron.sweep import plots
from mirror_neuron.sweep.spec import SEED_KEY, Sweep
from mirror_neuron.sweep.table import VERDICT, VERDICT_COUNTS

DEFAULT_PLOTS = 6  # figures plotted when the sweep names none: those that vary, tournament ratios first
COMPARED = 8  # points compared side by side with the first one, at most (those whose verdicts differ from it)
FIXED_COLUMNS = ("point", "name", "label", "reused_whole", "seconds")


def write_sweep_report(out: Path, sweep: Sweep, frame: Any) -> Path:
    """Draw the plots into ``out/plots`` and write ``out/report.html``; return its path."""
    keys = [key for key in sweep.spec.keys() if key in frame and frame[key].nunique() > 1]
    axes = [key for key in keys if key != SEED_KEY]
    drawn = []
    for number, value in enumerate(_plotted(frame, sweep, keys)):
        if len(axes) >= 2:
            drawn.append(plots.heatmap(frame, value, axes[0], axes[1], out / PLOTS / f"{number:02d}-heatmap.png"))
        if axes:
            hue = axes[1] if len(axes) >= 2 else None
            drawn.append(plots.lines(frame, value, axes[0], hue, out / PLOTS / f"{number:02d}-lines.png"))
    counts = plots.verdict_counts(frame, out / PLOTS / "verdict-counts.png")
    page = "\n".join([
        _head(sweep.name), "<body><main>",
        f"<header><p class=\"kicker\">Mirror Neuron sweep report</p><h1>{esc(sweep.name)}</h1>"
        f"<p class=\"muted\">{len(frame)} point(s) over {esc(', '.join(sweep.spec.keys()))}</p></header>",
        _findings(frame, axes), _points(frame, keys), _flipped(out, frame),
        "<section id=\"plots\"><h2>Plots</h2><div class=\"plots\">"
        + "".join(plot_figure(p) for p in [*drawn, *([counts] if counts else [])]) + "</div></section>",
        _all_columns(frame), "</main></body></html>\n"])
    return write_atomic(out / HTML_NAME, page)


def verdict_columns(frame: Any) -> list[str]:
    return [c for c in frame.columns if f"/{VERDICT}/" in c]


def _head(name: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">"
            f"<title>{esc(name)} · Mirror Neuron sweep report</title><style>{CSS}</style></head>")


def _findings(frame: Any, axes: list[str]) -> str:
    """For each judged subject whose verdict differs between points: which values (seeds aside) and which
    points gave which verdict."""
    items = []
    for column in verdict_columns(frame):
        groups = list(frame.groupby(column, sort=False))
        if len(groups) < 2:
            continue
        step, subject = column.split(f"/{VERDICT}/", 1)
        parts = []
        for verdict, group in groups:
            values = dict.fromkeys(", ".join(f"{key.rsplit('.', 1)[-1]}={row[key]}" for key in axes)
                                   for row in group.to_dict("records"))
            parts.append(f"{badge(verdict)} at {esc(' | '.join(values) or 'every value')} "
                         f"<span class=\"muted\">({esc(', '.join(group['name']))})</span>")
        items.append(f"<li><b>{esc(subject)}</b> ({esc(step)}): {'; '.join(parts)}</li>")
    body = "<ul>" + "".join(items) + "</ul>" if items else "<p class=\"note\">No verdict changes between points.</p>"
    return f"<section id=\"findings\"><h2>What the swept values change</h2>{body}</section>"


def _flipped(out: Path, frame: Any) -> str:
    """The first point beside each point whose verdicts differ from its verdicts (``mirror-neuron compare``
    of the two run folders, changed keys and figures only), at most :data:`COMPARED` of them."""
    from mirror_neuron.errors import UserError
    from mirror_neuron.report import load_run
    from mirror_neuron.report.compare import compare_runs
    from mirror_neuron.report.html import comparison_section

    columns = verdict_columns(frame)
    rows = frame.to_dict("records")
    if not columns or len(rows) < 2:
        return ""
    first = rows[0]
    differing = [row for row in rows[1:] if any(row[c] != first[c] for c in columns)]
    sections = []
    try:
        baseline = load_run(out / first["name"])
        for row in differing[:COMPARED]:
            sections.append(comparison_section(compare_runs(baseline, load_run(out / row["name"])), changed_only=True))
    except UserError as error:  # a point's folder damaged or gone since: the table above still stands
        sections.append(f"<p class=\"note\">{esc(str(error))}</p>")
    more = len(differing) - COMPARED
    note = f"<p class=\"note\">{more} more point(s) differ; compare them with <code>mirror-neuron compare</code>.</p>" \
        if more > 0 else ""
    body = "".join(sections) if sections else "<p class=\"note\">Every point gives the first point's verdicts.</p>"
    return (f"<section id=\"flipped\"><h2>Verdicts that differ from {esc(first['name'])}</h2>{body}{note}"
            "</section>")


def _points(frame: Any, keys: list[str]) -> str:
    """One row per point: its values, its verdicts as badges, the plotted figures, a link to its report."""
    verdicts = verdict_columns(frame)
    head = "".join(f"<th>{esc(h)}</th>" for h in ["point", *keys, *verdicts, "seconds", "reused"])
    body = []
    for row in frame.to_dict("records"):
        cells = [f"<td><a href=\"{esc(row['name'])}/{HTML_NAME}\">{esc(row['name'])}</a></td>"]
        cells += [_cell(row[key]) for key in keys]
        cells += [f"<td>{badge(row[c]) if isinstance(row[c], str) else ''}</td>" for c in verdicts]
        cells += [_cell(row["seconds"]), _cell("whole" if row["reused_whole"] else "")]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f"<section id=\"points\"><h2>Points</h2><div class=\"scroll\"><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div></section>")


def _all_columns(frame: Any) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return (f"<section id=\"table\"><h2>points.parquet</h2><details><summary>Every column ({len(frame.columns)})"
            f"</summary><div class=\"scroll\"><table class=\"wide\"><thead><tr>{head}</tr></thead><tbody>{body}"
            "</tbody></table></div></details></section>")


def _cell(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"<td class=\"num\">{esc(figure_text(value))}</td>"
    return f"<td>{esc('' if value is None else value)}</td>"


def _plotted(frame: Any, sweep: Sweep, keys: list[str]) -> list[str]:
    """The figures to plot: the sweep's ``plots``, else those that vary over the points (ratios first)."""
    if sweep.spec.plots:
        for name in sweep.spec.plots:
            if name not in frame:
                say(f"sweep.plots: no point has the summary figure '{name}'{did_you_mean(name, frame.columns)}")
        return [name for name in sweep.spec.plots if name in frame]
    skip = {*FIXED_COLUMNS, *keys}
    varying = [c for c in frame.columns if c not in skip and not c.startswith(("steps/", VERDICT_COUNTS))
               and frame[c].dtype.kind in "fi" and frame[c].nunique() > 1]
    return sorted(varying, key=lambda c: "/ratio/" not in c)[:DEFAULT_PLOTS]
