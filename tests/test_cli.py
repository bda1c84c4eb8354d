"""The command line as a user meets it: help, ls, validate, the dummy experiment, the original call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli

HEAVY = ("pandas", "pyarrow", "wandb", "pydantic", "torch", "datasets", "numpy", "yaml")


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys\nfrom mirror_neuron.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: mirror-neuron" in result.stdout
    assert result.stdout.strip().endswith("[]")


def test_ls_lists_components_one_line_each() -> None:
    result = run_cli("ls")
    assert result.returncode == 0
    assert any(line.split()[:1] == ["Dataset"] for line in result.stdout.splitlines())
    assert any(line.split()[:1] == ["prompts"] for line in result.stdout.splitlines())


def test_validate_a_broken_config_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yml"
    config.write_text("data:\n  id: d\n  path: builtin:prompts\n  sample:\n    method: first\n    n: -3\n")
    result = run_cli("validate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "broken.yml: data.sample.n (line 6): expected greater than 0" in result.stderr
    assert list(tmp_path.iterdir()) == [config]  # nothing written


def test_run_with_bad_input_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("data:\n  id: d\n  path: missing.jsonl\n")
    result = run_cli("run", "--config", str(config), "--offline", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "data.path (line 3): no such file or folder" in result.stderr
    assert list(tmp_path.iterdir()) == [config]
    assert run_cli("run", "--config", str(tmp_path / "absent.yml")).returncode == 2
    bad_set = run_cli("run", "--config", str(config), "--set", "data.path", cwd=tmp_path)
    assert bad_set.returncode == 2 and "--set data.path: expected dotted.key=value" in bad_set.stderr


def test_validate_the_dummy_config() -> None:
    result = run_cli("validate", "--config", "configs/dummy_config.yml")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_the_original_call_runs_the_dummy_config_offline_twice(tmp_path: Path) -> None:
    command = [sys.executable, "main", "--config", "configs/dummy_config.yml", "--offline", "--out", str(tmp_path / "out")]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "report:" in first.stdout and (tmp_path / "out" / "report.md").is_file()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    table = lines[lines.index(next(line for line in lines if line.split()[:2] == ["step", "status"])) + 1:]
    statuses = [line.split()[1] for line in table if line.split()[0] not in ("outputs:", "report:", "tracking:")]
    assert len(statuses) == 12 and set(statuses) == {"reused"}
    assert "verdicts of analysis 'forward_drivers':" in second.stderr
    # the demo's finding: echo beats honest miners under DPO, the blacklist closes it, the control stays neutral
    without = second.stderr.split("verdicts of query 'without_defense':")[1].split("verdicts of")[0].split()
    with_ = second.stderr.split("verdicts of query 'with_defense':")[1].split("verdicts of")[0].split()
    assert without[without.index("echo") + 1] == "exploit"
    assert with_[with_.index("echo") + 1] in ("penalized", "neutral")
    for verdicts in (without, with_):
        assert verdicts[verdicts.index("honest_twin") + 1] == "neutral"
    assert not any(line.startswith("wandb:") for line in second.stdout.splitlines() + second.stderr.splitlines())
