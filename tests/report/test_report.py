"""report.html: written by every run, self-contained, escaped, and rebuilt alike by `mirror-neuron report`."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mirror_neuron.report import RunView, StepView, TableView
from mirror_neuron.report.html import render_html
from mirror_neuron.report.markdown import render_markdown
from mirror_neuron.runner import RunOptions, run_experiment
from mirror_neuron.verdicts import VOCABULARIES, Interval, Verdict, to_table
from tests.conftest import run_cli
from tests.fixtures.report_steps import INJECTION
from tests.report.conftest import JudgedRun


class Page(HTMLParser):
    """The tags, attributes and heading texts of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def attributes(self, tag: str, name: str) -> list[str]:
        return [attrs[name] or "" for t, attrs in self.tags if t == tag and name in attrs]


def test_a_run_ends_with_a_self_contained_report(judged_run: JudgedRun) -> None:
    page = Page(judged_run.html)
    assert judged_run.result.report == judged_run.out / "report.html"
    assert {"Experiment", "Steps", "Verdicts", "prompts", "neuron", "forward", "judge"} <= set(page.headings)
    assert {"Summary", "Plots", "Tables", "Manifest"} <= set(page.headings)
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "srcset"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "file:")), f"<{tag} {name}={value[:60]}>"
    assert all(href.startswith("#") for href in page.attributes("a", "href"))
    [plot] = judged_run.result.records[-1].output.plots()
    [source] = page.attributes("img", "src")
    assert source.startswith("data:image/png;base64,")
    assert base64.b64decode(source.split(",", 1)[1]) == plot.read_bytes()
    assert "default-src 'none'" in judged_run.html  # no script or outside resource would run even if one slipped in


def test_report_shows_verdicts_tables_and_the_run_facts(judged_run: JudgedRun) -> None:
    html = judged_run.html
    judge = judged_run.result.records[-1].output
    for sentence in judge.table("verdicts")["sentence"]:
        assert sentence in html
    assert "(4 rows; all rows)" in html  # the judge's small tables whole
    assert "(60 rows; first 10 of 60 rows)" in html  # the forward events by their first rows
    index = json.loads((judged_run.out / "run.json").read_text())
    assert index["config_text"] == judged_run.config.read_text()
    assert index["experiment"] == {"name": "judged", "seed": 3, "tags": ["report"]} and index["ok"] is True
    assert index["planned"] == [s["id"] for s in index["steps"]]
    for record in judged_run.result.records:
        assert record.fingerprint in html  # full fingerprints in each step's manifest facts
    assert "Config text" in html and "tests.fixtures.report_steps:Judge" in html


def test_adversarial_completions_are_escaped(judged_run: JudgedRun) -> None:
    html = judged_run.html
    assert INJECTION not in html and "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    markdown = (judged_run.out / "report.md").read_text()
    assert "<script" not in markdown and "judge" in markdown


def test_the_run_prints_every_verdict_at_the_end(judged_run: JudgedRun) -> None:
    lines = judged_run.stderr.splitlines()
    start = lines.index("verdicts of analysis 'judge':")
    assert lines[start + 1].split() == ["subject", "verdict", "sentence"]
    verdicts = judged_run.result.records[-1].output.table("verdicts")
    printed = lines[start + 2:start + 2 + len(verdicts)]
    for line, row in zip(printed, verdicts.itertuples()):
        subject, verdict = line.split()[:2]  # a long subject (a miner's module:function key) is shortened
        assert row.subject.startswith(subject.rstrip("…")) and verdict == row.verdict and line.endswith(row.sentence)
    assert len({line.index(row.sentence) for line, row in zip(printed, verdicts.itertuples())}) == 1  # aligned


def test_every_judge_s_verdicts_get_badges_in_their_tone(tmp_path: Path) -> None:
    steps = []
    for vocabulary in VOCABULARIES:
        records = [Verdict(f"{vocabulary.judge} {word}", word, f"The {vocabulary.judge} says {word}.", 1.5,
                           Interval(1.25, 1.75, 0.95), {"calls": 3}) for word in vocabulary.verdicts]
        frame = to_table(records, vocabulary)
        steps.append(StepView(vocabulary.judge, "query", vocabulary.judge, "computed", "f" * 64,
                              {"verdicts": len(frame)}, 1.0, {}, verdicts=TableView("verdicts", len(frame), frame)))
    run = RunView(tmp_path, {"planned": [s.id for s in steps]}, steps)
    html = render_html(run)
    page = Page(html)
    badges = [attrs for tag, attrs in page.tags if tag == "span" and "badge" in (attrs.get("class") or "")]
    assert len(badges) == 2 * sum(len(v.verdicts) for v in VOCABULARIES)  # the all-verdicts table and each step's
    for vocabulary in VOCABULARIES:
        for word, tone in vocabulary.tones.items():
            speakers = sum(word in v.tones for v in VOCABULARIES)  # exploit: the Tournament and the search
            assert html.count(f'<span class="badge {tone}">{word}</span>') == 2 * speakers, word
            assert f".badge.{tone} {{" in html  # the page styles the tone
    assert html.count("<td class=\"num\">1.5 [1.25, 1.75] (95%)</td>") == len(badges) // 2  # estimate, interval
    markdown = render_markdown(run)
    for vocabulary in VOCABULARIES:
        for word in vocabulary.verdicts:
            assert f"- **{vocabulary.judge} {word}** ({word}): The {vocabulary.judge} says {word}." in markdown


def copy_run(judged_run: JudgedRun, tmp_path: Path) -> Path:
    """A copy of the run folder and its store, the step links (relative) leading into the copied store."""
    root = judged_run.out.parent
    shutil.copytree(root, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / judged_run.out.name


def test_report_command_rebuilds_the_same_page_from_stored_outputs(judged_run: JudgedRun, tmp_path: Path) -> None:
    out = copy_run(judged_run, tmp_path)
    (out / "report.html").unlink()
    (out / "report.md").unlink()
    result = run_cli("report", "--run", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report:  {out / 'report.html'}"
    expected = judged_run.html
    for folder in ("out", "store"):  # the copy's own folders, where the page names them
        expected = expected.replace(str(judged_run.out.parent / folder), str(out.parent / folder))
    assert (out / "report.html").read_text() == expected
    assert (out / "report.md").read_text() == (judged_run.out / "report.md").read_text()


def test_a_missing_step_output_is_reported_not_fatal(judged_run: JudgedRun, tmp_path: Path) -> None:
    out = copy_run(judged_run, tmp_path)
    (out / "forward").unlink()
    result = run_cli("report", "--run", str(out))
    assert result.returncode == 0, result.stderr
    html = (out / "report.html").read_text()
    assert "the stored output is gone" in html and "echo miners earn" in html


@pytest.mark.parametrize("case", ["no folder", "no run.json", "broken run.json", "not an index"])
def test_report_command_refuses_a_bad_run_folder_on_one_line(case: str, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    if case != "no folder":
        folder.mkdir()
    if case == "broken run.json":
        (folder / "run.json").write_text('{"steps": [')
    if case == "not an index":
        (folder / "run.json").write_text('{"steps": 3}')
    result = run_cli("report", "--run", str(folder))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mirror-neuron: error: ") and str(folder) in lines[0]
    assert not (folder / "report.html").exists()


def rerun_steps(out: Path, steps: str) -> str:
    """Run the copied experiment again with ``--steps``, into the same folder and store; what it printed."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        run_experiment(RunOptions(config=out.parent / "judged.yml", out=out, store=out.parent / "store", steps=steps))
    return stderr.getvalue()


def test_a_run_of_some_steps_keeps_the_earlier_steps_in_the_report(judged_run: JudgedRun, tmp_path: Path) -> None:
    out = copy_run(judged_run, tmp_path)
    first = json.loads((out / "run.json").read_text())
    printed = rerun_steps(out, "prompts")
    assert "verdicts of analysis 'judge'" not in printed  # the terminal tells this run's verdicts only
    index = json.loads((out / "run.json").read_text())
    assert index["planned"] == ["prompts"]
    assert [s["id"] for s in index["steps"]] == [s["id"] for s in first["steps"]]  # the experiment's order
    steps = {s["id"]: s for s in index["steps"]}
    assert steps["prompts"]["run_started_at"] == index["started_at"]
    for step in first["steps"]:
        if step["id"] != "prompts":
            assert steps[step["id"]] == {**step, "run_started_at": first["started_at"]}
    html = (out / "report.html").read_text()
    for sentence in judged_run.result.records[-1].output.table("verdicts")["sentence"]:
        assert sentence in html  # the judge's verdicts, from the earlier run
    assert html.count(f"(by an earlier run, started {first['started_at']})") == 3
    assert "judge" in (out / "report.md").read_text()


def test_an_earlier_step_whose_output_was_damaged_or_moved_leaves_the_report(judged_run: JudgedRun,
                                                                            tmp_path: Path) -> None:
    out = copy_run(judged_run, tmp_path)
    verdicts = (out / "judge").resolve() / "verdicts.parquet"
    assert verdicts.is_file()
    verdicts.chmod(0o644)
    verdicts.write_bytes(verdicts.read_bytes()[:-8])
    (out / "neuron").unlink()
    rerun_steps(out, "prompts")
    index = json.loads((out / "run.json").read_text())
    assert sorted(s["id"] for s in index["steps"]) == ["forward", "prompts"]
