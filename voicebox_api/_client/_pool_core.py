"""What the sync and the async pool share: members, routing, the fallback rules, bookkeeping.

**Routing.** A request goes to the providers that serve its language (the pool config's
``languages``, else ``capabilities.languages`` from the last ``/health``; neither: maybe) and
its voice (the config's ``voices``; providers that name none serve any voice). A provider whose
last ``/health`` said ``loading`` or ``unhealthy`` gets no traffic at all. Of the others, those
whose circuit is not open are the candidates; when every circuit is open they are tried anyway,
best effort: the breaker steers traffic, it never refuses the last option (a refused connection
costs a millisecond, and the caller gets the provider's own error).

**Policy: least outstanding requests**; ties (typically several idle providers) go to the one
with the lower recent latency (a moving average of its successes), then at random. A pool has
a handful of providers and is, for each of them, one client that knows exactly how many of its
own requests each provider holds. Round robin and random give a slow or busy provider the same
share as a fast one, so its queue and its latency grow until it is the p95; least-outstanding
sends less to whoever holds requests longer. The latency average only breaks ties: a stale one
costs at most the choice between two idle providers. Power-of-two-choices exists for the
opposite setting, many balancers with stale load figures, where sending everyone to the one
least-loaded server would stampede it; here the counts are exact and updated before each send,
and scanning three providers costs nothing. ``measurements/pool_failover.py`` measures its p95
against round robin with one slow provider.

**Fallback.** Generation and voice-prompt creation have no side effects, so a request that
brought nothing back to the caller is resent to the next candidate: after a connect error or
timeout, a broken connection, any 5xx, a 429 (rate-limited here, maybe not there), a 401/403
(that provider's key) or a 422 from a provider the pool was guessing about (language or voice
prompt not known to be accepted; the refusal is learnt). Not resent: other 4xx (the request's
own fault, the same everywhere) and a success whose body breaks the contract (a
``ProtocolError``: the answer arrived; the provider is broken, not busy). Each provider is tried
at most once per request and at most ``max_attempts`` providers in all,
then the local engine, when there is one, in-process, so alternating failures end after a
bounded number of attempts.

**Streams** (``stream_generate``) go by the same rules to the providers whose last ``/health``
declares ``capabilities.streaming`` (never-polled ones are polled first); the local engine does
not stream and is no candidate. Fallback ends with the first chunk handed to the caller: a
stream that breaks before it goes to the next candidate (a ``BrokenStreamError`` then counts
as the provider's fault, as a 5xx does), one that breaks after it raises its
``BrokenStreamError`` at once, with no retry (the caller already holds audio; resending would
repeat it), and counts as that provider's error. Usage counts the seconds of samples received.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx

from voicebox_api._client._breaker import CircuitBreaker
from voicebox_api._client._local import LocalEngine
from voicebox_api._client._pool_config import PoolConfig, ProviderSpec
from voicebox_api._client._prompts import PromptStore, StoredPrompt
from voicebox_api._client._results import GenerateResult, HealthResult, VoicePromptResult
from voicebox_api._client._usage import UsageMeter
from voicebox_api._errors import (
    BrokenStreamError,
    ProtocolError,
    ProviderHTTPError,
    ProviderTransportError,
)
from voicebox_api._models import READY_STATUSES, GenerateResponse, HealthResponse

__all__ = [
    "LocalEngineError",
    "Member",
    "NoProviderError",
    "PoolCore",
    "ProviderStatus",
    "RoutedGenerateResult",
    "RoutedVoicePromptResult",
    "RoutingPolicy",
    "Step",
    "annotated",
    "best_health",
    "local_prompt_response",
    "local_result",
]

C = TypeVar("C")
RoutingPolicy = Literal["least_outstanding", "round_robin", "random"]
_FAIL_OVER_STATUSES = frozenset({401, 403, 408, 429})
_RANK_COMPATIBLE, _RANK_UNKNOWN, _RANK_RECREATE = 0, 1, 2
_EWMA = 0.2


class NoProviderError(Exception):
    """No provider of the pool (nor the local engine) can take this request."""


class LocalEngineError(Exception):
    """The local engine failed; ``__cause__`` is its exception."""


@dataclass(frozen=True, repr=False)  # the parent's repr: no audio or prompt dumped
class RoutedGenerateResult(GenerateResult):
    """A ``GenerateResult`` plus where it came from and where the pool tried first."""

    provider: str
    tried: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class RoutedVoicePromptResult(VoicePromptResult):
    provider: str
    tried: tuple[str, ...]


@dataclass(frozen=True)
class ProviderStatus:
    """One provider as a settings page shows it."""

    name: str
    url: str
    breaker: str
    outstanding: int
    health: str | None
    """The last ``/health`` status, or None when never answered."""
    model: str | None


@dataclass
class Member(Generic[C]):
    spec: ProviderSpec
    client: C
    breaker: CircuitBreaker
    outstanding: int = 0
    health: HealthResponse | None = None
    recent_s: float = 0.0
    """Moving average of its successful requests' latency: breaks ties between idle members."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def engine(self) -> str | None:
        return self.spec.engine or (self.health.model if self.health is not None else None)

    def ready(self) -> bool:
        return self.health is None or self.health.status in READY_STATUSES

    def streams(self) -> bool:
        capabilities = self.health.capabilities if self.health is not None else None
        return capabilities is not None and capabilities.streaming is True

    def serves_language(self, language: str) -> bool | None:
        if self.spec.languages:
            return language in self.spec.languages
        capabilities = self.health.capabilities if self.health is not None else None
        if capabilities is not None and capabilities.languages is not None:
            return language in capabilities.languages
        return None


@dataclass(frozen=True)
class Step(Generic[C]):
    """One planned attempt: a member (None: the local engine) and the prompt to send it
    (None: re-create it from ``stored`` first)."""

    member: Member[C] | None
    prompt: Mapping[str, Any] | None
    certain: bool
    best_effort: bool = False
    stored: StoredPrompt | None = None
    original: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.member.name if self.member is not None else "local"


class PoolCore(Generic[C]):
    def __init__(
        self,
        config: PoolConfig,
        members: Sequence[Member[C]],
        *,
        local: LocalEngine | None,
        policy: RoutingPolicy,
        usage: UsageMeter | None,
        rng: random.Random | None,
        prompt_capacity: int,
    ) -> None:
        self.config = config
        self.members = list(members)
        self.by_name = {member.name: member for member in self.members}
        self.local = local
        self.local_name = f"local:{local.name}" if local is not None else "local"
        self.policy = policy
        self.usage = usage if usage is not None else UsageMeter()
        self.store = PromptStore(prompt_capacity)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._turn = itertools.count()

    # --- Planning ------------------------------------------------------------------------------

    def plan_generate(
        self, language: str, voice: str | None, prompt: Mapping[str, Any], *, stream: bool = False
    ) -> list[Step[C]]:
        routed = [
            m
            for m in self._voiced(voice)
            if m.serves_language(language) is not False and m.ready()
            if m.streams() or not stream
        ]
        healthy = [m for m in routed if m.breaker.allows()]
        chosen, best_effort = (healthy, False) if healthy else (routed, True)
        stored = self.store.lookup(prompt)
        ranked = [self._generate_step(m, language, prompt, stored, best_effort) for m in chosen]
        steps: list[Step[C]] = []
        for rank in (_RANK_COMPATIBLE, _RANK_UNKNOWN, _RANK_RECREATE):
            steps += self._order([s for r, s in ranked if r == rank and s is not None])
        if stream:
            if not steps:
                raise NoProviderError(self._why_none_streams())
            return steps[: self.config.max_attempts]
        return self._with_local(steps, self._local_generate_step(language, prompt, stored))

    def unpolled(self) -> list[Member[C]]:
        """Members never heard from whose circuit lets a poll through: a stream polls them
        first, to learn whether they stream."""
        return [m for m in self.members if m.health is None and m.breaker.allows()]

    def plan_create(self) -> list[Step[C]]:
        ready = [m for m in self.members if m.ready()]
        healthy = [m for m in ready if m.breaker.allows()]
        chosen, best_effort = (healthy, False) if healthy else (ready, True)
        steps = [Step(m, None, certain=True, best_effort=best_effort) for m in chosen]
        local_step = Step[C](None, None, certain=True) if self.local is not None else None
        return self._with_local(self._order(steps), local_step)

    def _voiced(self, voice: str | None) -> list[Member[C]]:
        if voice is None:
            return list(self.members)
        declared = [m for m in self.members if voice in m.spec.voices]
        return declared or [m for m in self.members if not m.spec.voices]

    def _generate_step(
        self,
        member: Member[C],
        language: str,
        prompt: Mapping[str, Any],
        stored: StoredPrompt | None,
        best_effort: bool,
    ) -> tuple[int, Step[C] | None]:
        engine = member.engine
        language_known = member.serves_language(language) is True
        for key in (engine, f"provider:{member.name}"):
            if stored is not None and key is not None and key in stored.by_engine:
                prompt_for = stored.by_engine[key]
                return _RANK_COMPATIBLE, Step(member, prompt_for, language_known, best_effort)
        verdict = self.store.verdict(engine, prompt)
        if verdict is True:
            return _RANK_COMPATIBLE, Step(member, prompt, language_known, best_effort)
        if stored is not None and (verdict is False or engine is not None):
            step = Step(member, None, language_known, best_effort, stored, prompt)
            return _RANK_RECREATE, step
        if verdict is False:
            return _RANK_RECREATE, None
        return _RANK_UNKNOWN, Step(member, prompt, False, best_effort)

    def _order(self, steps: list[Step[C]]) -> list[Step[C]]:
        if self.policy == "random":
            shuffled = list(steps)
            self._rng.shuffle(shuffled)
            return shuffled
        if self.policy == "round_robin":
            if not steps:
                return steps
            with self._lock:
                start = next(self._turn) % len(steps)
            return steps[start:] + steps[:start]
        with self._lock:
            keys = [
                (s.member.outstanding, s.member.recent_s, self._rng.random())
                if s.member is not None
                else (0, 0.0, 0.0)
                for s in steps
            ]
        return [s for _, s in sorted(zip(keys, steps, strict=True), key=lambda pair: pair[0])]

    def _local_generate_step(
        self, language: str, prompt: Mapping[str, Any], stored: StoredPrompt | None
    ) -> Step[C] | None:
        local = self.local
        if local is None or (local.languages and language not in local.languages):
            return None
        if local.accepts(prompt):
            return Step(None, prompt, certain=True)
        if stored is not None:
            known = stored.by_engine.get(self.local_name)
            return Step(None, known, certain=True, stored=stored, original=prompt)
        return None

    def _with_local(self, steps: list[Step[C]], local_step: Step[C] | None) -> list[Step[C]]:
        planned = steps[: self.config.max_attempts] + ([local_step] if local_step else [])
        if not planned:
            raise NoProviderError(self._why_none())
        return planned

    def _why_none(self) -> str:
        states = ", ".join(
            f"{m.name}: {m.health.status if m.health else 'unpolled'}" for m in self.members
        )
        return (
            "no provider of the pool can take this request (language, voice, or loading/"
            f"unhealthy), and no local engine can; providers: {states}"
        )

    def _why_none_streams(self) -> str:
        states = ", ".join(f"{m.name}: {_stream_state(m)}" for m in self.members)
        return (
            "no provider of the pool can stream this request: none whose /health declares "
            "capabilities.streaming serves its language and voice and is ready (the local "
            f"engine does not stream; use generate() instead); providers: {states}"
        )

    # --- Attempts ------------------------------------------------------------------------------

    def claim(self, step: Step[C]) -> bool:
        """Count the attempt as outstanding; False when the circuit has just closed on it."""
        member = step.member
        if member is None:
            return True
        if not step.best_effort and not member.breaker.acquire():
            return False
        with self._lock:
            member.outstanding += 1
        return True

    def release(self, step: Step[C]) -> None:
        if step.member is not None:
            with self._lock:
                step.member.outstanding -= 1

    def succeeded(self, step: Step[C], audio_seconds: float, elapsed_s: float) -> None:
        self.usage.record_success(self.provider_name(step), audio_seconds, elapsed_s)
        member = step.member
        if member is None:
            return
        member.breaker.record_success()
        with self._lock:
            previous = member.recent_s
            member.recent_s = (
                elapsed_s if previous == 0 else previous + _EWMA * (elapsed_s - previous)
            )
        if step.prompt is not None and (engine := member.engine) is not None:
            self.store.learn(engine, step.prompt, accepted=True)

    def failed(self, step: Step[C], error: BaseException, language: str | None) -> bool:
        """Record a failed attempt; True when the request should go to the next candidate."""
        self.usage.record_error(self.provider_name(step))
        member = step.member
        if member is None:
            return True
        if _provider_fault(error):
            member.breaker.record_failure()
            return not isinstance(error, ProtocolError)
        member.breaker.release()
        if isinstance(error, ProviderHTTPError) and error.status in _FAIL_OVER_STATUSES:
            return True
        if isinstance(error, ProviderHTTPError) and error.status == 422 and not step.certain:
            self._learn_refusal(member, step, language)
            return True
        return False

    def broke(self, step: Step[C], error: BaseException) -> None:
        """A stream broke after its first chunk reached the caller: the provider's error,
        never resent."""
        self.usage.record_error(self.provider_name(step))
        if step.member is not None:
            step.member.breaker.record_failure()

    def _learn_refusal(self, member: Member[C], step: Step[C], language: str | None) -> None:
        """Blame the prompt only when the language is known to be served, so that a refused
        language never teaches the pool that a prompt is foreign."""
        engine = member.engine
        if step.prompt is None or engine is None:
            return
        language_served = language is None or member.serves_language(language) is True
        if language_served and self.store.verdict(engine, step.prompt) is None:
            self.store.learn(engine, step.prompt, accepted=False)

    def abandoned(self, step: Step[C]) -> None:
        """The attempt ended without a verdict (cancelled, or an unexpected exception): free
        the half-open probe it may hold, so that the breaker cannot stay stuck."""
        if step.member is not None:
            step.member.breaker.release()

    def provider_name(self, step: Step[C]) -> str:
        return step.member.name if step.member is not None else self.local_name

    # --- Health ------------------------------------------------------------------------------

    def record_health(self, member: Member[C], outcome: HealthResult | BaseException) -> bool:
        """Note a poll's outcome; True when the provider answered with a health body."""
        if isinstance(outcome, HealthResult):
            member.health = outcome.body
            if outcome.ready and member.breaker.state == "half_open":
                member.breaker.record_success()  # the poll was the probe
            return True
        if isinstance(outcome, ProviderTransportError) or (
            isinstance(outcome, ProviderHTTPError) and outcome.status >= 500
        ):
            member.breaker.record_failure()
        return False

    def statuses(self) -> list[ProviderStatus]:
        return [
            ProviderStatus(
                m.name,
                m.spec.url,
                m.breaker.state,
                m.outstanding,
                m.health.status if m.health else None,
                m.health.model if m.health else None,
            )
            for m in self.members
        ]

    # --- Results -------------------------------------------------------------------------------

    def exhausted(self, errors: Sequence[tuple[str, BaseException]]) -> BaseException:
        if not errors:
            return NoProviderError("every candidate provider's circuit is open")
        return annotated(errors[-1][1], errors)

    def engine_key(self, member: Member[C]) -> str:
        return member.engine or f"provider:{member.name}"


def best_health(outcomes: Sequence[HealthResult | BaseException]) -> HealthResult:
    """The first ready answer, else the first answer, else raise the first error."""
    answers = [o for o in outcomes if isinstance(o, HealthResult)]
    ready = [a for a in answers if a.ready]
    if ready or answers:
        return (ready or answers)[0]
    raise next(o for o in outcomes if isinstance(o, BaseException))


def _stream_state(member: Member[Any]) -> str:
    if member.health is None:
        return "unpolled"
    if not member.streams():
        return "no streaming declared"
    return member.health.status


def _provider_fault(error: BaseException) -> bool:
    """Whether ``error`` says the provider is in trouble (what the circuit breaker counts)."""
    if isinstance(error, ProviderTransportError | ProtocolError | BrokenStreamError):
        return True
    return isinstance(error, ProviderHTTPError) and error.status >= 500


def annotated(error: BaseException, errors: Sequence[tuple[str, BaseException]]) -> BaseException:
    """``error`` with a note listing every attempt, when there was more than one."""
    if len(errors) > 1:
        tried = "; ".join(f"{name}: {type(exc).__name__}" for name, exc in errors)
        error.add_note(f"voicebox pool tried {len(errors)} providers: {tried}")
    return error


def local_result(name: str, body: GenerateResponse) -> tuple[httpx.Response, GenerateResponse]:
    """A stand-in HTTP answer for the local engine's result, so that it is a GenerateResult."""
    request = httpx.Request("POST", f"http://{name.replace(':', '-')}.local/v1/generate")
    response = httpx.Response(
        200, content=body.model_dump_json().encode(), request=request,
        headers={"content-type": "application/json", "x-served-by": name},
    )  # fmt: skip
    return response, body


def local_prompt_response(name: str, prompt: dict[str, Any]) -> httpx.Response:
    request = httpx.Request("POST", f"http://{name.replace(':', '-')}.local/v1/create_voice_prompt")
    return httpx.Response(200, json={"voice_prompt": prompt}, request=request)
