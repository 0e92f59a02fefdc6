from __future__ import annotations

import json

import pytest

from benchmarks.scenarios import (
    SCENARIOS,
    RequestFactory,
    ScenarioSettings,
    load_corpus,
    parse_mix,
    tone_reference,
)
from voicebox_api import GenerateRequest, read_audio

PROMPT = {"provider": "x"}


def _factory(**changes: object) -> RequestFactory:
    settings = ScenarioSettings(
        texts=tuple(load_corpus()),
        references=(tone_reference(),),
        **changes,  # type: ignore[arg-type]
    )
    return RequestFactory(settings)


def test_generate_bodies_are_protocol_models_with_a_request_id_and_key() -> None:
    request = _factory(api_key="k").generate(PROMPT)
    body = GenerateRequest.model_validate_json(request.body)
    assert body.voice_prompt == PROMPT
    assert request.headers["X-API-Key"] == "k"
    assert request.headers["Content-Type"] == "application/json"
    assert request.size == len(request.body)
    assert request.request_id == request.headers["X-Request-ID"]


@pytest.mark.parametrize(("policy", "expect"), [("fixed", {7}), ("none", {None})])
def test_seed_policies(policy: str, expect: set[int | None]) -> None:
    factory = _factory(seed_policy=policy, seed=7)
    seeds = {json.loads(factory.generate(PROMPT).body)["seed"] for _ in range(5)}
    assert seeds == expect


def test_per_request_seeds_differ_and_are_reproducible() -> None:
    def seeds() -> list[int]:
        factory = _factory(seed_policy="per-request", seed=3)
        return [json.loads(factory.generate(PROMPT).body)["seed"] for _ in range(5)]

    first = seeds()
    assert len(set(first)) == 5
    assert first == seeds()


def test_multipart_uploads_carry_the_reference_audio() -> None:
    request = _factory().create_voice_prompt()
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="reference_text"' in request.body
    wav = tone_reference().audio
    assert wav in request.body
    samples, rate = read_audio(wav)
    assert rate == 24_000
    assert len(samples) == 48_000


def test_health_requests_never_carry_the_key() -> None:
    request = _factory(api_key="k").build("health", None)
    assert "X-API-Key" not in request.headers
    assert request.path == "/health"


def test_every_scenario_builds_its_operations() -> None:
    for scenario in SCENARIOS:
        factory = _factory(scenario=scenario)
        for _ in range(20):
            operation = factory.next_operation()
            assert factory.build(operation, PROMPT).operation == operation


def test_mix_parsing_refuses_unknown_operations_and_zero_weights() -> None:
    assert parse_mix("generate=3, health=1") == {"generate": 3, "health": 1}
    with pytest.raises(ValueError, match="unknown operation"):
        parse_mix("generate=1,delete=2")
    with pytest.raises(ValueError, match="positive"):
        parse_mix("generate=0")


def test_generate_without_a_voice_prompt_is_refused() -> None:
    with pytest.raises(ValueError, match="voice prompt"):
        _factory().build("generate", None)


def test_bundled_clips_are_used_when_the_kit_has_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types
    from dataclasses import dataclass

    from benchmarks.scenarios import default_references, default_transcription_audio

    @dataclass
    class Clip:
        name: str
        role: str
        audio_bytes: bytes
        format: str
        text: str

    fake = types.ModuleType("conformance.engine.references")
    fake.all_clips = lambda: (  # type: ignore[attr-defined]
        Clip("voice_a", "voice", b"A", "flac", "text a"),
        Clip("lights", "transcription", b"L", "flac", "lights off"),
    )
    monkeypatch.setitem(sys.modules, "conformance.engine.references", fake)
    (voice,) = default_references()
    assert (voice.name, voice.audio, voice.text) == ("voice_a.flac", b"A", "text a")
    (clip,) = default_transcription_audio()
    assert clip.name == "lights.flac"


def test_without_bundled_clips_a_generated_tone_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from benchmarks.scenarios import default_references, default_transcription_audio

    monkeypatch.setitem(sys.modules, "conformance.engine.references", None)  # import fails
    assert [r.name for r in default_references()] == ["tone.wav"]
    assert [r.name for r in default_transcription_audio()] == ["tone.wav"]


def test_transcribe_uploads_the_transcription_clips() -> None:
    clip = tone_reference(seconds=1.0)
    settings = ScenarioSettings(
        texts=("x",), references=(tone_reference(),), transcription_audio=(clip,)
    )
    request = RequestFactory(settings).transcribe()
    assert clip.audio in request.body
