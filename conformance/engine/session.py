"""One conformance run's view of the provider: the client, the shared artefacts and the judges.

Checks ask the session for what they need (the health answer, reference A's voice prompt, the
``walk-A`` generation, its decoded audio) and the session fetches each once, so that a run costs
about twenty generate calls however many checks read them. An artefact that cannot be had
because another clause's requirement is broken raises ``Blocked`` naming that clause.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import ValidationError

from conformance.engine.options import AsrJudgeChoice, SpeakerJudgeChoice, SuiteOptions
from conformance.engine.outcome import Blocked, NotApplicable
from conformance.engine.plan import GenerationSpec, spec
from conformance.engine.readiness import ProviderNotReady, wait_for_provider
from conformance.engine.record import JudgeInfo, RequestTally
from conformance.engine.references import ReferenceClip, voice_references
from voicebox_api import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AsyncProviderClient,
    AudioCodecError,
    AuthMode,
    Capabilities,
    DecodedAudio,
    Exchange,
    ProviderClient,
    RetryPolicy,
    Settings,
    StreamChunk,
    curl_command,
    decode_audio,
    strict_json,
)

if TYPE_CHECKING:
    from conformance.judges.asr import AsrJudge
    from conformance.judges.speaker import SpeakerJudge

__all__ = ["Generation", "HealthProbe", "Session"]

Target = Literal["tts", "whisper", "openai"]
T = TypeVar("T")


@dataclass(frozen=True)
class HealthProbe:
    response: httpx.Response
    body: dict[str, Any] | None


@dataclass(frozen=True)
class Generation:
    spec: GenerationSpec
    response: httpx.Response
    body: dict[str, Any] | None


SUITE_RETRY = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=10.0, max_total_delay=120.0)
"""Patient with a provider whose queue is full: a correct provider may answer 503 to a burst."""


class _ExchangeLog:
    """Every attempt the clients made, in order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)


@dataclass
class _Shared:
    """What a replaying session shares with the original: connections, judges, the log."""

    options: SuiteOptions
    settings: Settings
    client: ProviderClient
    log: _ExchangeLog
    references: dict[str, ReferenceClip]
    asr: AsrJudge | None
    asr_missing: str | None
    speaker: SpeakerJudge | None
    speaker_missing: str | None


class Session:
    def __init__(self, shared: _Shared) -> None:
        self._shared = shared
        self._memo: dict[str, Any] = {}
        self._memo_lock = threading.RLock()
        self._notes: list[str] = []

    # --- Life cycle ----------------------------------------------------------------------------

    @classmethod
    def open(cls, options: SuiteOptions) -> Session:
        settings = options.client_settings()
        log = _ExchangeLog()
        client = ProviderClient(settings=settings, on_exchange=log, retry=SUITE_RETRY)
        asr, asr_missing = _asr_judge(options, client)
        speaker, speaker_missing = _speaker_judge(options)
        shared = _Shared(
            options,
            settings,
            client,
            log,
            voice_references(options.reference_audio, options.reference_text),
            asr,
            asr_missing,
            speaker,
            speaker_missing,
        )
        session = cls(shared)
        session.wait_until_ready(options.wait_s)
        return session

    def wait_until_ready(self, timeout_s: float, *, poll_s: float = 1.0) -> bool:
        """Poll /health until the provider has started, so a provider still loading its model
        is not judged; gives up after ``timeout_s`` and lets the checks report what they see.
        (The plugin refuses to start a run against a provider that never gets ready.)"""
        try:
            wait_for_provider(self._shared.client, timeout_s, poll_s=poll_s)
        except ProviderNotReady:
            return False
        return True

    def fresh(self) -> Session:
        """A session with the same provider and judges but no artefacts, to replay a check."""
        return Session(self._shared)

    def close(self) -> None:
        self._shared.client.close()

    @property
    def options(self) -> SuiteOptions:
        return self._shared.options

    # --- Requests ------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        target: Target = "tts",
        auth: AuthMode = "key",
        retry: bool = False,
        **options: Any,
    ) -> httpx.Response:
        """Send one request and return the raw answer whatever its status."""
        return self._shared.client.request(
            method, path, target=target, auth=auth, retry=retry, **options
        )

    def stream_generate(
        self, text: str, voice_prompt: dict[str, Any], *, seed: int | None = None
    ) -> Iterator[StreamChunk]:
        """``POST /v1/generate`` as a stream through the kit's client (SPEC.md §14)."""
        return self._shared.client.stream_generate(text, voice_prompt, seed=seed)

    def async_client(self) -> AsyncProviderClient:
        """A new async client on the same settings and log; the caller closes it."""
        return AsyncProviderClient(
            settings=self._shared.settings, on_exchange=self._shared.log, retry=SUITE_RETRY
        )

    @property
    def request_count(self) -> int:
        return len(self._shared.log.snapshot())

    def responses_seen(self) -> list[httpx.Response]:
        return [e.response for e in self._shared.log.snapshot() if e.response is not None]

    def tally(self) -> RequestTally:
        exchanges = self._shared.log.snapshot()
        paths = Counter(e.request.url.path for e in exchanges)
        generate = [e for e in exchanges if e.request.url.path.endswith("/v1/generate")]
        made = sum(1 for e in generate if e.response is not None and e.response.status_code == 200)
        return RequestTally(
            total=len(exchanges),
            by_endpoint=dict(paths),
            generate_calls=len(generate),
            generations=made,
        )

    def curl(self, request: httpx.Request) -> str:
        keys = (self.options.api_key, self.options.openai_api_key, self.options.speech_api_key)
        secrets = [k for k in keys if k]
        return str(curl_command(request, secrets=secrets))

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """Compute an artefact once per session. Blocked and other outcomes are remembered too,
        so a broken prerequisite costs one request, not one per check."""
        with self._memo_lock:
            if key not in self._memo:
                try:
                    self._memo[key] = ("value", factory())
                except (Blocked, NotApplicable) as outcome:
                    self._memo[key] = ("raise", outcome)
            kind, value = self._memo[key]
        if kind == "raise":
            raise value
        result: T = value
        return result

    def note(self, text: str) -> None:
        """Something the verdict of the running check should say (``Runner`` takes it)."""
        self._notes.append(text)

    def take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return list(dict.fromkeys(notes))

    # --- Health --------------------------------------------------------------------------------

    def health(self) -> HealthProbe:
        return self.memo("health", self._probe_health)

    def _probe_health(self) -> HealthProbe:
        response = self.send("GET", "/health")
        try:
            body = strict_json(response.text)
        except ValueError:
            body = None
        return HealthProbe(response, body if isinstance(body, dict) else None)

    def health_body(self) -> dict[str, Any] | None:
        return self.health().body

    def capabilities(self) -> Capabilities:
        """The declared capabilities. A malformed member counts as not declared (HLT-3 reports
        it) while the well-formed ones still hold, so one typo does not change other verdicts."""
        return self.memo("capabilities", self._parse_capabilities)

    def _parse_capabilities(self) -> Capabilities:
        declared = (self.health().body or {}).get("capabilities")
        if not isinstance(declared, dict):
            return Capabilities()
        valid = {}
        for name, value in declared.items():
            try:
                Capabilities.model_validate({name: value})
            except ValidationError:
                continue
            valid[name] = value
        return Capabilities.model_validate(valid)

    def declared_languages(self) -> tuple[str, ...]:
        return tuple(self.capabilities().languages or ("en",))

    # --- References and voice prompts ------------------------------------------------------------

    def reference(self, which: str) -> ReferenceClip:
        return self._shared.references[which]

    def upload_prompt(
        self,
        data: bytes,
        filename: str,
        content_type: str,
        reference_text: str,
        *,
        retry: bool = True,
    ) -> httpx.Response:
        return self.send(
            "POST",
            "/v1/create_voice_prompt",
            retry=retry,
            files={"audio": (filename, data, content_type)},
            data={"reference_text": reference_text},
        )

    def reference_wav(self, which: str) -> bytes:
        """Reference ``which`` as the WAV file that VP-1 uploads."""
        return self.memo(f"reference-wav:{which}", lambda: self.reference(which).encoded("wav"))

    def prompt_response(self, which: str) -> httpx.Response:
        text = self.reference(which).text
        return self.memo(
            f"prompt-response:{which}",
            lambda: self.upload_prompt(
                self.reference_wav(which), "reference.wav", "audio/wav", text
            ),
        )

    def voice_prompt(self, which: str) -> dict[str, Any]:
        """Reference ``which``'s voice prompt after a JSON round trip (VP-3)."""
        response = self.prompt_response(which)
        if response.status_code != 200:
            raise Blocked(
                "VP-1", f"create_voice_prompt answered {response.status_code} for reference {which}"
            )
        try:
            prompt = strict_json(response.text).get("voice_prompt")
        except (ValueError, AttributeError):
            prompt = None
        if not isinstance(prompt, dict):
            raise Blocked("VP-2", f"no voice prompt object for reference {which}")
        round_tripped: dict[str, Any] = json.loads(json.dumps(prompt))
        return round_tripped

    # --- Generations ---------------------------------------------------------------------------

    def generation(self, key: str) -> Generation:
        return self.memo(f"generation:{key}", lambda: self._generate(spec(key)))

    def _generate(self, planned: GenerationSpec) -> Generation:
        body = planned.body(self.voice_prompt(planned.reference))
        response = self.send("POST", "/v1/generate", json=body, retry=True)
        try:
            parsed = strict_json(response.text) if response.status_code == 200 else None
        except ValueError:
            parsed = None
        return Generation(planned, response, parsed if isinstance(parsed, dict) else None)

    def require_generation_works(self) -> None:
        """Blocked unless the canary (``walk-A``, a full valid body) was answered 200: a 4xx
        there means the round-tripped voice prompt was refused (VP-3), anything else GEN-1."""
        code = self.generation("walk-A").response.status_code
        if 400 <= code < 500:
            raise Blocked("VP-3", f"/v1/generate refused a valid request with {code}")
        if code != 200:
            raise Blocked("GEN-1", f"/v1/generate answered {code} to a valid request")

    def generated(self, key: str) -> Generation:
        """``key``'s generation, which must have been answered 200."""
        self.require_generation_works()
        generation = self.generation(key)
        if generation.response.status_code != 200:
            raise Blocked(
                "GEN-1", f"/v1/generate answered {generation.response.status_code} for {key!r}"
            )
        return generation

    def audio(self, key: str) -> DecodedAudio:
        return self.memo(f"audio:{key}", lambda: self._decode(key))

    def _decode(self, key: str) -> DecodedAudio:
        body = self.generated(key).body
        if body is None or not all(
            isinstance(body.get(k), t)
            for k, t in (("audio", str), ("sample_rate", int), ("dtype", str))
        ):
            raise Blocked("GEN-2", f"the answer for {key!r} lacks audio, sample_rate or dtype")
        rate = body["sample_rate"]
        if isinstance(rate, bool) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise Blocked("AUD-5", f"sample_rate {rate!r} of {key!r} is out of range")
        try:
            samples = decode_audio(body["audio"], body["dtype"])
        except AudioCodecError as exc:
            raise Blocked(exc.clause, f"audio of {key!r}: {exc}") from None
        return DecodedAudio(samples=samples, sample_rate=rate, dtype=body["dtype"])

    # --- Judges --------------------------------------------------------------------------------

    def asr_judge_or_none(self) -> AsrJudge | None:
        return self._shared.asr

    def asr_judge(self) -> AsrJudge:
        if self._shared.asr is None:
            raise NotApplicable(
                "no ASR judge is available: " + (self._shared.asr_missing or ""),
                "pip install 'voicebox-provider-kit[judges]' (or --asr-judge provider/openai)",
            )
        return self._shared.asr

    def speaker_judge(self) -> SpeakerJudge:
        if self._shared.speaker is None:
            raise NotApplicable(
                "no speaker judge is available: " + (self._shared.speaker_missing or ""),
                "pip install webrtcvad-wheels && pip install --no-deps resemblyzer==0.1.4",
            )
        return self._shared.speaker

    def judge_infos(self) -> list[JudgeInfo]:
        infos = []
        if self._shared.asr is not None:
            infos.append(
                JudgeInfo(role="asr", name=self._shared.asr.name, version=self._shared.asr.version)
            )
        if self._shared.speaker is not None:
            infos.append(
                JudgeInfo(
                    role="speaker",
                    name=self._shared.speaker.name,
                    version=self._shared.speaker.version,
                )
            )
        return infos


@functools.cache
def _local_whisper_judge() -> AsrJudge:
    """One model per process: loading it takes a second, and every session judges alike."""
    from conformance.judges.asr import LocalWhisperJudge

    return LocalWhisperJudge()


def _asr_judge(options: SuiteOptions, client: ProviderClient) -> tuple[AsrJudge | None, str | None]:
    from conformance.judges import JudgeUnavailable, asr

    choice = options.asr_judge
    if choice is AsrJudgeChoice.NONE:
        return None, "disabled with --asr-judge none"
    try:
        if choice in (AsrJudgeChoice.AUTO, AsrJudgeChoice.LOCAL):
            return _local_whisper_judge(), None
        if choice is AsrJudgeChoice.PROVIDER:
            return asr.ProviderWhisperJudge.using(client), None
        return asr.OpenAIJudge.using(client), None
    except JudgeUnavailable as exc:
        return None, f"{exc} ({exc.install_hint})"


def _speaker_judge(options: SuiteOptions) -> tuple[SpeakerJudge | None, str | None]:
    from conformance.judges.speaker import INSTALL_HINT, SpeakerJudge

    if options.speaker_judge is SpeakerJudgeChoice.NONE:
        return None, "disabled with --speaker-judge none"
    if not SpeakerJudge.available():
        return None, f"resemblyzer is not installed ({INSTALL_HINT})"
    return _shared_speaker_judge(), None


@functools.cache
def _shared_speaker_judge() -> SpeakerJudge:
    """One encoder per process, like the Whisper judge."""
    from conformance.judges.speaker import SpeakerJudge

    return SpeakerJudge()
