"""The espeak-ng fork server: reproducible, isolated from its history, and self-healing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reference_server.backends.espeak import _engine
from reference_server.backends.espeak._engine import EngineError, SynthesisRequest

SENTENCE = "The quick brown fox jumps over the lazy dog."


def request(text: str = SENTENCE, voice: str = "en-us+m3", seed: int = 1) -> SynthesisRequest:
    return SynthesisRequest(text=text, voice=voice, rate=175, pitch=50, range=50, seed=seed)


def test_engine_reports_the_bundled_espeak_ng() -> None:
    info = _engine.engine_info()
    assert info.sample_rate == 22050
    assert info.version.startswith("1.52")


def test_output_is_speech_length_int16() -> None:
    samples = _engine.synthesize(request())
    assert samples.dtype == np.int16
    assert 1.0 < samples.size / 22050 < 6.0
    assert np.abs(samples.astype(np.int32)).max() > 1000


def test_equal_requests_give_identical_samples_whatever_came_between() -> None:
    # In one process, libespeak-ng's second synthesis of a text differs from its first; the
    # fork server must hide that.
    first = _engine.synthesize(request())
    _engine.synthesize(request("Something else entirely, said in another voice.", "en-us+f3"))
    second = _engine.synthesize(request())
    assert np.array_equal(first, second)


def test_noise_seed_changes_breathy_variants() -> None:
    # f3 mixes in breath noise from espeak's own generator, which the seed drives.
    one = _engine.synthesize(request(voice="en-us+f3", seed=1))
    two = _engine.synthesize(request(voice="en-us+f3", seed=2))
    assert not np.array_equal(one, two)


def test_unknown_voice_is_an_engine_error_and_the_worker_survives() -> None:
    with pytest.raises(EngineError, match="voice not found"):
        _engine.synthesize(request(voice="no-such-voice"))
    assert _engine.synthesize(request()).size > 0


def test_markup_is_read_as_text_not_obeyed() -> None:
    # With SSML on, this element would become a silent PLAY event (about 300 samples); with it
    # off, espeak reads the characters out, seconds of speech, and touches no file.
    markup = _engine.synthesize(request('<audio src="/etc/passwd"/>'))
    assert markup.size > 22050


def test_a_killed_worker_is_replaced() -> None:
    before = _engine.synthesize(request())
    worker = _engine._worker
    assert worker is not None
    os.kill(worker._process.pid, signal.SIGKILL)
    worker._process.wait(timeout=10)
    after = _engine.synthesize(request())
    assert np.array_equal(before, after)


def test_a_forked_process_gets_its_own_worker() -> None:
    expected = _engine.synthesize(request())
    pid = os.fork()
    if pid == 0:  # the child: must not talk over the parent's pipes
        try:
            same = np.array_equal(_engine.synthesize(request()), expected)
            os._exit(0 if same else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert np.array_equal(_engine.synthesize(request()), expected)


def test_a_wedged_worker_is_killed_and_replaced() -> None:
    expected = _engine.synthesize(request())
    worker = _engine._worker
    assert worker is not None
    os.kill(worker._process.pid, signal.SIGSTOP)  # alive but silent
    try:
        with pytest.raises(EngineError, match="stopped answering"):
            _engine.synthesize(replace(request(), timeout=0.5))
    finally:
        if worker._process.poll() is None:
            os.kill(worker._process.pid, signal.SIGKILL)
    assert worker._process.poll() is not None
    assert np.array_equal(_engine.synthesize(request()), expected)


def test_shutdown_then_use_restarts() -> None:
    _engine.shutdown()
    assert _engine._worker is None
    assert _engine.synthesize(request()).size > 0


def test_worker_refuses_malformed_requests_and_keeps_serving() -> None:
    import espeakng_loader

    data_parent = str(Path(espeakng_loader.get_data_path()).parent)
    script = Path(_engine.__file__).with_name("_worker.py")
    good = {
        "text": "hello",
        "voice": "en-us",
        "rate": 175,
        "pitch": 50,
        "range": 50,
        "seed": 0,
        "read_punctuation": False,
        "timeout": 30.0,
    }
    lines = [
        b"not json",
        json.dumps({**good, "rate": "fast"}).encode(),
        json.dumps({**good, "text": "a\x00b"}).encode(),
        json.dumps({**good, "text": "word " * 3000, "timeout": 0.001}).encode(),
        json.dumps(good).encode(),
    ]
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(script), espeakng_loader.get_library_path(), data_parent],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=60,
        check=True,
    )
    stream = result.stdout
    headers = []
    while stream:
        line, _, stream = stream.partition(b"\n")
        header = json.loads(line)
        headers.append(header)
        stream = stream[header.get("bytes", 0) :]
    assert headers[0]["sample_rate"] == 22050
    assert [h["ok"] for h in headers[1:]] == [False, False, False, False, True]
    assert headers[4]["error"] == "synthesis timed out"
    assert headers[5]["bytes"] > 0
