"""Unbounded inputs: --set values, config and data files, and counts, each refused at once with one line."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.hostile.helpers import DATA, cli, config, refused, tree

NEURON = """\
experiment: {name: bounds}
tracking: {backend: none}
data: {id: prompts, path: builtin:prompts, sample: {method: first, n: 3}}
model:
  id: neuron
  type: neuron
  metagraph:
    n: 16
  miners:
    echo: 2
    length_padder: {count: 2, words: 200}
query:
  - id: forward
    requires: [neuron, prompts]
    entrypoint: Neuron
    passes: 1
  - id: tournament
    requires: [neuron, prompts]
    entrypoint: Tournament
    method: forward
    steps: 10
    repetitions: 2
    resamples: 1000
  - id: hacks
    requires: [prompts]
    entrypoint: RewardHackSearch
    reward: {type: ConstantRewardModel}
    transforms: [{length_padding: {words: 300}}]
"""
ONE_GIB = 1 << 30


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def bounded_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess with at most 4 GiB of data memory and ``timeout`` seconds: a hang or a
    blow-up (10**9 list items are 8 GB) fails the test instead of the machine."""
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (4 * ONE_GIB, 4 * ONE_GIB))

    return subprocess.run([sys.executable, "-m", "mirror_neuron", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit_memory,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def one_line(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_the_neuron_config_is_valid(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stderr = cli(capsys, "validate", "--config", str(config(here, NEURON)))
    assert code == 0, stderr


@pytest.mark.parametrize("old, new, where, limit", [
    ("    n: 16", "    n: 1000000000", "model.metagraph.n (line 8)", "uids"),
    ("    passes: 1", "    passes: 1000000000", "query[0].passes (line 16)", "passes"),
    ("    steps: 10", "    steps: 1000000000", "query[1].steps (line 21)", "steps"),
    ("    repetitions: 2", "    repetitions: 1000000000", "query[1].repetitions (line 22)", "repetitions"),
    ("    resamples: 1000", "    resamples: 1000000000", "query[1].resamples (line 23)", "resamples"),
    ("{length_padding: {words: 300}}", "{length_padding: {words: 1000000000}}", "query[2].transforms[0] (line 28)",
     "words"),
    ("{count: 2, words: 200}", "{count: 2, words: 1000000000}", "model.miners.length_padder (line 11)", "words"),
])
def test_counts_past_their_limit_are_refused_at_validation(here: Path, capsys: pytest.CaptureFixture[str], old: str,
                                                            new: str, where: str, limit: str) -> None:
    assert old in NEURON
    config(here, NEURON.replace(old, new))
    started = time.monotonic()
    code, stderr = cli(capsys, "validate", "--config", "c.yml")
    refused(code, stderr, f"c.yml: {where}:", f"(limit '{limit}'), got 1,000,000,000",
            f"MIRROR_NEURON_LIMITS={limit}=N")
    assert time.monotonic() - started < 5


def test_huge_counts_fail_before_anything_is_built(here: Path) -> None:
    """In a subprocess with bounded memory: 10**9 uids or miners would need gigabytes if built first."""
    config(here, NEURON.replace("    echo: 2", "    echo: 1000000000"), "miners.yml")
    one_line(bounded_cli("validate", "--config", "miners.yml", cwd=here),
             "miners.yml: model.miners (line 9):", "declares 1000000002 miners but the metagraph has 16 uids")
    config(here, NEURON.replace("    n: 16", "    n: 1000000000"), "uids.yml")
    one_line(bounded_cli("validate", "--config", "uids.yml", cwd=here, env={"MIRROR_NEURON_LIMITS": ""}),
             "uids.yml: model.metagraph.n (line 8):", "limit 'uids'")


def test_a_limit_is_raised_deliberately_through_the_environment(here: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config(here, NEURON.replace("    n: 16", "    n: 15000"))
    refused(*cli(capsys, "validate", "--config", "c.yml"), "expected at most 10,000 (limit 'uids'), got 15,000")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "uids=20000, passes=50")
    assert cli(capsys, "validate", "--config", "c.yml")[0] == 0
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "uid=20000")
    refused(*cli(capsys, "validate", "--config", "c.yml"), "MIRROR_NEURON_LIMITS: no limit named 'uid' (did you mean 'uids'?)")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "uids=lots")
    refused(*cli(capsys, "validate", "--config", "c.yml"), "MIRROR_NEURON_LIMITS: expected uids=N")


def _alias_bomb(levels: int = 9) -> str:
    text, previous = "&a [1, 1, 1, 1, 1, 1, 1, 1, 1]", "a"
    for name in "bcdefghijklmnop"[:levels]:
        text += f", &{name} [" + ", ".join([f"*{previous}"] * 9) + "]"
        previous = name
    return f"[{text}]"


@pytest.mark.parametrize("value, problem", [
    (_alias_bomb(), "the document expands to too many nodes through aliases: expected at most 100,000 "
                    "(limit 'config_nodes')"),
    ("&a [*a]", "recursive alias: this node contains itself through an alias (line 1); refused"),
    ("{a: 1, a: 2}", "a (line 1): duplicate key"),
    ("!!python/object/apply:os.system [echo hi]", "tags such as '!!python/...' are not allowed"),
    ("[" * 100 + "]" * 100, "nested more than 64 levels deep"),
    ("[1", "invalid YAML"),
])
def test_set_values_go_through_the_safe_loader(here: Path, capsys: pytest.CaptureFixture[str], value: str,
                                               problem: str) -> None:
    config(here)
    started = time.monotonic()
    refused(*cli(capsys, "validate", "--config", "c.yml", "--set", f"data.sample.n={value}"),
            "error: --set data.sample.n: ", problem)
    assert time.monotonic() - started < 5


def test_an_error_about_a_set_value_names_the_set(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config(here)
    line = refused(*cli(capsys, "validate", "--config", "c.yml", "--set", "data.sample.n=-3"),
                   "c.yml: data.sample.n (set by --set data.sample.n=-3): expected greater than 0")
    assert "(line" not in line  # line 6 still holds the old, valid n: 3
    refused(*cli(capsys, "validate", "--config", "c.yml", "--set", "data.sample={method: frist, n: 3}"),
            "c.yml: data.sample.method (set by --set data.sample={method: frist, n: 3}): expected one of")
    assert cli(capsys, "validate", "--config", "c.yml", "--set", "data.sample.n=4")[0] == 0


def test_config_files_must_be_regular_files_within_a_size(here: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(here / "fifo.yml")
    # a FIFO that nobody writes to would block a reader forever: run the CLI with a timeout
    one_line(bounded_cli("validate", "--config", "fifo.yml", cwd=here, timeout=30),
             "fifo.yml: not a regular file (a FIFO)")
    one_line(bounded_cli("validate", "--config", "/dev/zero", cwd=here, timeout=30),
             "/dev/zero: not a regular file (a character device)")
    refused(*cli(capsys, "validate", "--config", str(here)), "not a regular file (a folder)")
    config(here, DATA + "#" * (2 << 20) + "\n", "big.yml")
    refused(*cli(capsys, "validate", "--config", "big.yml"),
            "big.yml: the config file is too large: expected at most 1 MiB (limit 'config_bytes'), got 2 MiB")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "config_bytes=3000000")
    assert cli(capsys, "validate", "--config", "big.yml")[0] == 0


def _data_config(here: Path, path: str) -> Path:
    return config(here, DATA.replace("builtin:prompts", json.dumps(path)))


@pytest.mark.parametrize("path, problem", [
    ("/", "/ is the root of the file system"),
    ("/proc", "/proc is on a special file system (/proc)"),
    ("/proc/self/environ", "is on a special file system (/proc)"),
    ("/sys/kernel", "is on a special file system (/sys)"),
    ("/dev/zero", "/dev/zero is on a special file system (/dev)"),
    ("fifo.jsonl", "fifo.jsonl: not a regular file or folder (a FIFO)"),
])
def test_data_paths_that_are_not_regular_files_or_folders_are_refused(here: Path, capsys: pytest.CaptureFixture[str],
                                                                      path: str, problem: str) -> None:
    os.mkfifo(here / "fifo.jsonl")
    _data_config(here, path)
    started = time.monotonic()
    refused(*cli(capsys, "validate", "--config", "c.yml"), "c.yml: data.path (line 5):", problem)
    assert time.monotonic() - started < 5


def test_the_home_folder_is_scanned_bounded_skipping_hidden_folders_and_links(
        here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    home = here / "home"
    (home / ".cache").mkdir(parents=True)
    (home / ".cache" / "cached.jsonl").write_text('{"question": "hidden?"}\n')
    (home / "prompts.jsonl").write_text('{"question": "q?", "answer": "a"}\n')
    (home / "loop").symlink_to(home)  # a folder link: never followed
    (home / "proc").symlink_to("/proc")
    (home / "environ.jsonl").symlink_to("/proc/self/environ")  # a file link into /proc: skipped
    monkeypatch.setenv("HOME", str(home))
    _data_config(here, "~")
    code, stderr = cli(capsys, "run", "--config", "c.yml")
    assert code == 0, stderr
    run = json.loads((here / "runs" / "hostile" / "run.json").read_text())
    assert run["steps"][0]["rows"] == {"data": 1}  # prompts.jsonl only: not .cache/, not through the links
    for index in range(30):
        (home / f"note{index}.txt").write_text("")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "folder_entries=20")
    refused(*cli(capsys, "validate", "--config", "c.yml"), "c.yml: data.path (line 5):",
            "the folder holds too many entries to scan for data files: expected at most 20 (limit 'folder_entries')")


def test_a_gzip_bomb_is_refused_once_the_limit_is_reached(here: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.dumps({"question": "q" * 1000, "answer": "a"}).encode() + b"\n"
    with gzip.open(here / "bomb.jsonl.gz", "wb") as handle:
        for _ in range(5):
            handle.write(line * 1000)  # 5 MB that compress to a few kilobytes
    assert (here / "bomb.jsonl.gz").stat().st_size < 100_000
    _data_config(here, "bomb.jsonl.gz")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "data_bytes=1000000")
    code, stderr = cli(capsys, "run", "--config", "c.yml")
    refused(code, stderr, f"{here / 'bomb.jsonl.gz'}: the data file decompresses to more than the limit: "
                          "expected at most 977 KiB (limit 'data_bytes')")
    assert not (here / "runs").exists()  # no run folder left behind
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "data_bytes=6000000")
    code, stderr = cli(capsys, "run", "--config", "c.yml")
    assert code == 0, stderr


def test_a_plain_data_file_past_the_limit_is_refused_at_validation(here: Path, capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (here / "big.jsonl").write_text(json.dumps({"question": "q" * 5000}) + "\n")
    _data_config(here, "big.jsonl")
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "data_bytes=1000")
    refused(*cli(capsys, "validate", "--config", "c.yml"), "c.yml: data.path (line 5):",
            "big.jsonl: the data file is too large: expected at most 1000 bytes (limit 'data_bytes'), got 4.9 KiB")
    assert tree(here) == ["big.jsonl", "c.yml"]


def test_the_readme_lists_every_limit_with_its_default() -> None:
    from mirror_neuron.limits import LIMITS

    readme = (REPO / "README.md").read_text()
    for limit in LIMITS.values():
        assert f"| `{limit.name}` | {limit} | {limit.bounds} |" in readme, limit.name
