"""Comparing two runs: the config diff by key, each step's figures with deltas, verdicts that flip and
intervals that move; the same through `mirror-neuron compare`."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from mirror_neuron.report import RunView, StepView, TableView, load_run
from mirror_neuron.report.compare import ABSENT, Change, VerdictRow, compare_runs, comparison_text, diff_config, flatten
from mirror_neuron.report.html import comparison_section
from mirror_neuron.runner import RunOptions, run_experiment
from mirror_neuron.verdicts import TOURNAMENT, Interval, Verdict, to_table
from tests.conftest import run_cli
from tests.report.conftest import JudgedRun


@pytest.fixture(scope="module")
def reseeded(judged_run: JudgedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The judged experiment again with another seed and margin, in a folder and store of its own."""
    root = tmp_path_factory.mktemp("reseeded")
    with contextlib.redirect_stderr(io.StringIO()):
        result = run_experiment(RunOptions(config=judged_run.config, out=root / "out", store=root / "store",
                                           overrides=["experiment.seed=4", "analysis.margin=0.02"]))
    return result.out


def test_two_runs_compare_by_config_key_figure_and_verdict(judged_run: JudgedRun, reseeded: Path) -> None:
    a, b = load_run(judged_run.out), load_run(reseeded)
    comparison = compare_runs(a, b)
    changes = {c.key: (c.a, c.b) for c in comparison.config}
    assert changes == {"experiment.seed": (3, 4), "neuron.seed": (3, 4), "judge.margin": (0.05, 0.02)}
    steps = {s.id: s for s in comparison.steps}
    assert list(steps) == [s.id for s in a.steps]
    assert steps["prompts"].same_output and not steps["forward"].same_output  # the data step takes no seed here
    figures = {f.name: f for f in steps["forward"].figures}
    for name, value in a.step("forward").summary.items():
        assert figures[name].a == value and figures[name].b == b.step("forward").summary[name]
        assert figures[name].delta == pytest.approx(figures[name].b - value)
    assert figures["forward_passes"].delta == 0 and not figures["forward_passes"].changed
    before = a.step("judge").output.table("verdicts").set_index("subject")["verdict"]
    after = b.step("judge").output.table("verdicts").set_index("subject")["verdict"]
    rows = {v.subject: v for v in steps["judge"].verdicts}
    assert set(rows) == set(before.index) | set(after.index)
    for subject, row in rows.items():
        assert (row.a.verdict, row.b.verdict) == (before[subject], after[subject])
        assert row.flipped == (before[subject] != after[subject])
        assert row.overlap is None  # this judge gives no intervals
    text = comparison_text(comparison)
    assert "config: 3 difference(s)" in text and "judge.margin" in text
    assert "step 'prompts' (data Dataset): the same stored output" in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for subject, row in rows.items():
        assert f"{subject} {before[subject]} -> {after[subject]}{' flipped' if row.flipped else ''}" in lines


def verdict_step(step_id: str, records: list[Verdict], summary: dict[str, float]) -> StepView:
    frame = to_table(records, TOURNAMENT)
    return StepView(step_id, "query", "Tournament", "computed", step_id[0] * 64, {"verdicts": len(frame)}, 1.0,
                    summary, verdicts=TableView("verdicts", len(frame), frame))


def record(subject: str, verdict: str, low: float, high: float) -> Verdict:
    return Verdict(subject, verdict, f"{subject} is {verdict}.", (low + high) / 2, Interval(low, high, 0.95))


def test_intervals_that_moved_and_steps_or_subjects_only_one_run_has(tmp_path: Path) -> None:
    a = RunView(tmp_path / "a", {"experiment": {"name": "x", "seed": 0}}, [
        verdict_step("tournament", [record("echo", "exploit", 1.5, 2.5), record("padder", "neutral", 0.9, 1.2),
                                    record("gone", "neutral", 0.8, 1.1)], {"ratio/echo": 2.0, "label": 1.0})])
    b = RunView(tmp_path / "b", {"experiment": {"name": "x", "seed": 0, "tags": ["t"]}}, [
        verdict_step("tournament", [record("echo", "neutral", 0.7, 1.3), record("padder", "neutral", 1.0, 1.4),
                                    record("new", "exploit", 1.2, 1.6)], {"ratio/echo": 1.0}),
        verdict_step("search", [], {"exploits": 0.0})])
    comparison = compare_runs(a, b)
    assert comparison.config == [Change("experiment.tags", ABSENT, ["t"])]
    rows = {v.subject: v for v in comparison.steps[0].verdicts}
    assert list(rows) == ["echo", "padder", "gone", "new"]
    assert rows["echo"].flipped and rows["echo"].overlap is False  # [1.5, 2.5] and [0.7, 1.3]
    assert not rows["padder"].flipped and rows["padder"].overlap is True and rows["padder"].changed
    assert rows["gone"].b is None and rows["new"].a is None and rows["gone"].overlap is None
    figures = {f.name: f for f in comparison.steps[0].figures}
    assert figures["ratio/echo"].delta == -1.0 and figures["label"].b is ABSENT and figures["label"].delta is None
    text = comparison_text(comparison)
    lines = [" ".join(line.split()) for line in text.splitlines()]  # aligned columns, read word by word
    assert "echo exploit 2 [1.5, 2.5] (95%) -> neutral 1 [0.7, 1.3] (95%) flipped; intervals disjoint" in lines
    assert "padder neutral 1.05 [0.9, 1.2] (95%) -> neutral 1.2 [1, 1.4] (95%) intervals overlap" in lines
    assert "gone neutral 0.95 [0.8, 1.1] (95%) -> (absent)" in lines
    assert "step 'search' (query Tournament): only in B" in lines
    assert "experiment.tags (absent) -> ['t']" in lines
    assert "ratio/echo 2 1 -1" in lines and "label 1 (absent)" in lines
    assert not VerdictRow("x", Verdict("x", "neutral", ""), Verdict("x", "neutral", "", float("nan"))).changed
    unchanged = comparison_text(compare_runs(a, a), changed_only=True)
    assert "config: the same" in unchanged and "echo" not in unchanged and "ratio/echo" not in unchanged


def test_a_filter_switched_on_is_one_change_not_two() -> None:
    def config(filters: dict) -> dict:
        return flatten({"reward": {"type": "RewardStack", "filters": filters}}, "neuron")

    assert diff_config(config({}), config({"blacklist": {}})) == [Change("neuron.reward.filters.blacklist", ABSENT, {})]
    assert diff_config(config({"blacklist": {"banned": ["x"]}}), config({})) == [
        Change("neuron.reward.filters.blacklist.banned", ["x"], ABSENT)]


def test_a_subject_with_control_characters_cannot_drive_the_terminal(tmp_path: Path) -> None:
    step = verdict_step("t", [record("\x1b[2Jevil", "exploit", 1.0, 2.0)], {})
    text = comparison_text(compare_runs(RunView(tmp_path, {}, [step]), RunView(tmp_path, {}, [step])))
    assert "\x1b" not in text and "\\x1b[2Jevil" in text


def test_compare_command_prints_the_comparison(judged_run: JudgedRun, reseeded: Path) -> None:
    result = run_cli("compare", str(judged_run.out), str(reseeded), "--changed")
    assert result.returncode == 0, result.stderr
    assert result.stdout == comparison_text(compare_runs(load_run(judged_run.out), load_run(reseeded)), True)
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "experiment.seed 3 -> 4" in lines and "forward_passes" not in result.stdout


def test_compare_command_refuses_a_folder_that_is_no_run_on_one_line(judged_run: JudgedRun, tmp_path: Path) -> None:
    result = run_cli("compare", str(judged_run.out), str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"mirror-neuron: error: {tmp_path}: no run.json here; is it the "
                                                  "output folder of a `mirror-neuron run`?"]


def test_a_page_shows_the_comparison_as_one_escaped_section(tmp_path: Path) -> None:
    a = RunView(tmp_path / "a", {"experiment": {"name": "x", "seed": 0}}, [
        verdict_step("tournament", [record("<b>echo</b>", "exploit", 1.5, 2.5)], {"ratio/echo": 2.0})])
    b = RunView(tmp_path / "b", {"experiment": {"name": "x", "seed": 1}}, [
        verdict_step("tournament", [record("<b>echo</b>", "neutral", 0.7, 1.3)], {"ratio/echo": 1.0})])
    section = comparison_section(compare_runs(a, b))
    assert section.startswith("<section class=\"comparison\">") and section.endswith("</section>")
    assert "<b>" not in section and "&lt;b&gt;echo&lt;/b&gt;" in section
    assert "<tr><td><code>experiment.seed</code></td><td class=\"num\">0</td><td class=\"num\">1</td></tr>" in section
    assert "<td class=\"num\">-1</td>" in section  # the delta of ratio/echo
    assert '<span class="badge alarm">exploit</span> <span class="mono">2 [1.5, 2.5] (95%)</span>' in section
    assert "<td>flipped; intervals disjoint</td>" in section
