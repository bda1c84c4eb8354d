"""Credentials in URLs never reach the terminal or the disk, and ``--offline`` puts every library offline:
through the real CLI, with a real HTTP server that asks for the credentials."""

from __future__ import annotations

import base64
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror_neuron.redact import redact
from tests.fixtures.one_line import error_line, run_main

TOKEN = "s3cr3t-t0ken"


@pytest.mark.parametrize("text, shown", [
    (f"https://user:{TOKEN}@host.org/a/hf_ckpt.pt", "https://***@host.org/a/hf_ckpt.pt"),
    (f"see http://{TOKEN}@host/x and s3://k:{TOKEN}@bucket/y", "see http://***@host/x and s3://***@bucket/y"),
    (f"https://host/x.pt?download=1&token={TOKEN}", "https://host/x.pt?download=1&token=***"),
    ("https://host.org/a/b.pt and user@example.org", "https://host.org/a/b.pt and user@example.org"),
])
def test_redact_masks_credentials_only(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.fixture
def checkpoint_server(tmp_path: Path) -> Iterator[str]:
    """A local server that sends a tiny GPT-J reward checkpoint to whoever gives user:TOKEN."""
    import torch

    from mirror_neuron.neuron.reward.trlx.module import TrlxRewardModule

    torch.save(TrlxRewardModule("tiny:gptj", seed=3).state_dict(), tmp_path / "hf_ckpt.pt")
    payload = (tmp_path / "hf_ckpt.pt").read_bytes()
    expected = "Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.headers.get("Authorization") != expected:
                self.send_error(401)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://user:{TOKEN}@127.0.0.1:{server.server_address[1]}/Dahoas/hf_ckpt.pt"
    server.shutdown()


CONFIG = """\
experiment: {{name: secrets, tags: ['{url}']}}
tracking: {{backend: wandb}}
model: {{id: rm, path: 'tiny:gptj', ckpt: '{url}'}}
data: {{id: prompts, path: builtin:prompts, sample: {{method: first, n: 2}}}}
query: {{id: scores, requires: [rm, prompts], entrypoint: RewardModel}}
"""


def test_a_token_in_a_checkpoint_url_is_used_but_never_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                checkpoint_server: str) -> None:
    monkeypatch.setattr("mirror_neuron.models.checkpoints.CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("HF_HUB_OFFLINE")  # downloads allowed (W&B stays offline: WANDB_MODE)
    result = run_main(capsys, tmp_path / "run", CONFIG.format(url=checkpoint_server))
    assert result.code == 0, result.err  # the server got the credentials: the download worked
    assert TOKEN not in result.out + result.err
    written = [p for p in (tmp_path / "run" / "out").rglob("*") if p.is_file()]
    written += [p for p in (tmp_path / "run" / "store").rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in written) and any(p.name == "report.html" for p in written)
    assert any(p.name == "manifest.json" for p in written) and any("wandb" in p.parts for p in written)
    assert [p for p in written if TOKEN.encode() in p.read_bytes()] == []
    assert "http://***@127.0.0.1" in (tmp_path / "run" / "out" / "run.json").read_text()
    assert [p for p in (tmp_path / "cache").rglob("*") if TOKEN in p.name] == []


def test_a_token_in_a_failing_url_is_masked_in_the_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mirror_neuron.models.checkpoints.CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("HF_HUB_OFFLINE")  # try the network (a closed local port)
    text = f"tracking: {{backend: none}}\nmodel: {{id: rm, path: 'tiny:gptj', ckpt: 'http://u:{TOKEN}@127.0.0.1:9/x.pt'}}\n"
    result = run_main(capsys, tmp_path, text)
    error_line(result, "c.yml: model.ckpt (line 2)", "cannot download checkpoint http://***@127.0.0.1:9/x.pt")
    assert TOKEN not in result.err + result.out


def test_offline_puts_the_hub_offline_and_a_hub_id_fails_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")  # only --offline says so
    text = "tracking: {backend: none}\nmodel:\n  id: rm\n  kind: log_prob\n  path: someone/not-cached-anywhere\n"
    started = time.monotonic()
    result = run_main(capsys, tmp_path, text, "--offline")
    assert time.monotonic() - started < 30  # no minute of retries
    error_line(result, "c.yml: model.path (line 5)", "'someone/not-cached-anywhere' is a hub id and the run is offline")
    assert "HF_HUB_OFFLINE" not in os.environ  # the switch lasts for the run only


def test_offline_switches_every_library() -> None:
    import huggingface_hub.constants

    from mirror_neuron.offline import OFFLINE_ENV, offline

    before = huggingface_hub.constants.HF_HUB_OFFLINE
    with offline():
        assert all(os.environ[name] == value for name, value in OFFLINE_ENV.items())
        assert set(OFFLINE_ENV) == {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "WANDB_MODE"}
        assert huggingface_hub.constants.HF_HUB_OFFLINE is True  # already imported: switched too
    assert huggingface_hub.constants.HF_HUB_OFFLINE == before
