"""The test reader for W&B run files, checked on a real offline run large enough to span several blocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tracking.wandb_records import BLOCK, HEADER, WandbFileError, find_run_files, read_payloads, read_run

# A run made by wandb itself, with a config big enough that its records are split over 32 KiB blocks.
SCRIPT = """
import sys, wandb
run = wandb.init(project="reader-check", name="reader run", tags=["a", "b"], mode="offline", dir=sys.argv[1],
                 config={"big": "x" * 100_000, "nested": {"n": 3, "items": [1, 2]}})
for step in range(3):
    run.log({"loss": 1.0 / (step + 1), "group/count": step})
artifact = wandb.Artifact("reader-artifact", type="dataset", metadata={"k": "v"})
with artifact.new_file("hello.txt") as handle:
    handle.write("hello")
run.log_artifact(artifact)
run.finish()
"""


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reader")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_CONFIG_DIR=str(root / "config"), WANDB_CACHE_DIR=str(root / "cache"),
               WANDB_DATA_DIR=str(root / "data"), WANDB_ARTIFACT_DIR=str(root / "artifacts"))
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    [path] = find_run_files(root)
    return path


def test_reads_a_multi_block_run(run_file: Path) -> None:
    """Fragments across blocks are joined and every checksum matches; the run decodes fully."""
    assert run_file.stat().st_size > 3 * BLOCK
    assert run_file.read_bytes().startswith(HEADER)
    assert any(len(payload) > BLOCK for payload in read_payloads(run_file))
    run = read_run(run_file)
    assert run.display_name == "reader run" and run.tags == ["a", "b"] and run.project == "reader-check"
    assert run.config["big"] == "x" * 100_000
    assert run.config["nested"] == {"n": 3, "items": [1, 2]}
    assert [row["loss"] for row in run.history] == [1.0, 0.5, 1.0 / 3]
    assert [row["group/count"] for row in run.history] == [0, 1, 2]
    assert run.summary["loss"] == 1.0 / 3
    [artifact] = run.artifacts
    assert (artifact.name, artifact.type, artifact.metadata, artifact.paths) == (
        "reader-artifact", "dataset", {"k": "v"}, ["hello.txt"])
    assert run.exit_code == 0 and run.kinds[-1] == "exit"


def test_rejects_corrupt_files(run_file: Path, tmp_path: Path) -> None:
    """A flipped byte fails its checksum; a wrong header or a cut-off fragment is refused."""
    raw = bytearray(run_file.read_bytes())
    corrupt = tmp_path / "corrupt.wandb"
    raw[len(HEADER) + 20] ^= 0xFF
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(WandbFileError, match="checksum"):
        read_payloads(corrupt)
    corrupt.write_bytes(b":W&X" + run_file.read_bytes()[4:])
    with pytest.raises(WandbFileError, match="header"):
        read_payloads(corrupt)
    corrupt.write_bytes(run_file.read_bytes()[:BLOCK + 100])
    with pytest.raises(WandbFileError):
        read_payloads(corrupt)
