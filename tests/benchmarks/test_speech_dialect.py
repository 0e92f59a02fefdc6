"""Both load generators target OpenAI's /v1/audio/speech with the same texts and seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.locustrun import run_locust
from benchmarks.responses import interpret
from benchmarks.results import RunResult
from benchmarks.scenarios import RequestFactory, ScenarioSettings, tone_reference
from orchestration.processes import ReferenceServerProcess

TEXTS = ("One text.", "Another text.", "A third text.")


def _settings(dialect: str) -> ScenarioSettings:
    return ScenarioSettings(
        texts=TEXTS,
        references=(tone_reference(),),
        dialect=dialect,
        api_key="k",  # type: ignore[arg-type]
    )


def test_speech_requests_carry_the_same_texts_and_seeds() -> None:
    voicebox = RequestFactory(_settings("voicebox"))
    speech = RequestFactory(_settings("openai-speech"))
    for _ in range(5):
        a = json.loads(voicebox.build("generate", {"engine": "x"}).body)
        prepared = speech.build("generate", None)
        b = json.loads(prepared.body)
        assert (b["input"], b["seed"]) == (a["text"], a["seed"])
        assert b["response_format"] == "pcm"
    assert prepared.path == "/v1/audio/speech"
    assert prepared.dialect == "openai-speech"
    assert prepared.headers["Authorization"] == "Bearer k"
    assert not _settings("openai-speech").needs_voice_prompt


def test_pcm_answers_are_judged_as_audio() -> None:
    tone = (np.sin(np.arange(24_000) / 24_000 * 2 * np.pi * 200) * 9000).astype("<i2")
    outcome = interpret("generate", 200, tone.tobytes(), check=True, dialect="openai-speech")
    assert outcome.ok
    assert outcome.audio_s == pytest.approx(1.0)
    odd = interpret("generate", 200, b"abc", check=False, dialect="openai-speech")
    assert odd.error_class == "invalid_audio.SPEECH-5"
    refused = interpret("generate", 400, b"{}", check=False, dialect="openai-speech")
    assert refused.error_class == "http_400"


@pytest.mark.slow
def test_openloop_and_locust_run_the_speech_dialect(tmp_path: Path) -> None:
    args = ("--backend", "synthetic", "--whisper", "none")
    with ReferenceServerProcess(*args) as server:
        out = tmp_path / "openloop.json"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.openloop", "--host", server.base_url,
             "--rate", "4", "--duration", "3", "--dialect", "openai-speech",
             "--check-fraction", "1", "--out", str(out)],
            check=False, capture_output=True, timeout=120,
        )  # fmt: skip
        opened = RunResult.model_validate_json(out.read_text())
        assert opened.provenance.dialect == "openai-speech"
        assert opened.summary.ok == opened.summary.requests > 0
        run = run_locust(
            server.base_url, tmp_path / "locust", users=2, run_time_s=3,
            extra=["--dialect", "openai-speech", "--check-fraction", "1"],
        )  # fmt: skip
        assert run.result.provenance.dialect == "openai-speech"
        assert run.result.summary.ok == run.result.summary.requests > 0
