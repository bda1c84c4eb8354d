"""W&B receives each step's plots as images and its verdicts as a table (read back from the offline run file)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from tests.fixtures.report_steps import judged_config
from tests.tracking.test_wandb_tracker import isolated_env, run_isolated
from tests.tracking.wandb_records import find_run_files, read_run


def test_plots_are_images_and_verdicts_a_table(tmp_path: Path) -> None:
    config = tmp_path / "judged.yml"
    config.write_text(judged_config(tracking="{backend: wandb, project: mirror-neuron-tests}"))
    home = tmp_path / "home"
    home.mkdir()
    out, store = tmp_path / "out", tmp_path / "store"
    result = run_isolated(isolated_env(home, WANDB_MODE="offline"), "run", "--config", str(config), "--out", str(out),
                          "--store", str(store), "--offline")
    assert result.returncode == 0, result.stderr
    [run_file] = find_run_files(out)
    run = read_run(run_file)
    files = run_file.parent / "files"
    [judged] = [row for row in run.history if "judge/seconds" in row]
    [plot] = sorted((out / "judge").glob("chunks/*/plots/*.png"))

    assert judged["judge/plots/mean_reward/_type"] == "image-file"
    image = files / judged["judge/plots/mean_reward/path"]
    assert image.read_bytes() == plot.read_bytes()
    assert judged["judge/plots/mean_reward/sha256"] == hashlib.sha256(plot.read_bytes()).hexdigest()
    assert (judged["judge/plots/mean_reward/width"], judged["judge/plots/mean_reward/height"]) == (600, 400)

    assert judged["judge/verdicts/_type"] == "table-file"
    table = json.loads((files / judged["judge/verdicts/path"]).read_text())
    logged = pd.DataFrame(table["data"], columns=table["columns"])
    stored = pd.read_parquet(out / "judge" / "verdicts.parquet")
    pd.testing.assert_frame_equal(logged[["subject", "verdict", "sentence"]], stored[["subject", "verdict", "sentence"]])
    assert not any("/plots/" in key or key.endswith("/verdicts/_type") for key in run.history_keys()
                   if not key.startswith("judge/"))  # only the judging step has plots and verdicts
