"""SPEC.md §10: concurrent requests get what they would get alone, and /health stays quick."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from conformance.checks import _judging as judging
from conformance.checks._expect import describe, strict_json
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable
from conformance.engine.plan import CONCURRENT_KEYS, CORE_KEYS, spec
from conformance.engine.registry import check
from voicebox_api import AudioCodecError, decode_audio

if TYPE_CHECKING:
    from conformance.engine.session import Session
    from voicebox_api import AsyncProviderClient

HEALTH_DEADLINE_S = 1.0
DURATION_TOLERANCE = 0.25
_PROBE_INTERVAL_S = 0.05
_MAX_PROBES = 200


@dataclass(frozen=True)
class HealthSample:
    latency_s: float
    status: int
    generations_in_flight: int
    response: httpx.Response


@dataclass(frozen=True)
class Burst:
    results: list[tuple[str, httpx.Response]]
    health: list[HealthSample]

    @property
    def responses(self) -> list[httpx.Response]:
        return [r for _, r in self.results] + [h.response for h in self.health]


def burst(s: Session) -> Burst:
    """The CONCURRENT_KEYS generations sent at once, with /health probed while they run."""

    def build() -> Burst:
        keys = [CONCURRENT_KEYS[i % len(CONCURRENT_KEYS)] for i in range(s.options.concurrency)]
        bodies = [(k, spec(k).body(s.voice_prompt(spec(k).reference))) for k in keys]
        for key in dict.fromkeys(keys):
            s.generation(key)  # the answer each gets alone, sent before the burst
        return asyncio.run(_burst(s, bodies))

    result: Burst = s.memo("burst", build)
    return result


async def _burst(s: Session, bodies: list[tuple[str, dict[str, Any]]]) -> Burst:
    in_flight = 0
    async with s.async_client() as client:

        async def generate(key: str, body: dict[str, Any]) -> tuple[str, httpx.Response]:
            nonlocal in_flight
            in_flight += 1
            try:
                return key, await client.request("POST", "/v1/generate", json=body, retry=True)
            finally:
                in_flight -= 1

        async def probe() -> list[HealthSample]:
            samples: list[HealthSample] = []
            await asyncio.sleep(0)
            while in_flight and len(samples) < _MAX_PROBES:
                at_send, started = in_flight, time.perf_counter()
                response = await client.request("GET", "/health")
                samples.append(
                    HealthSample(
                        time.perf_counter() - started, response.status_code, at_send, response
                    )
                )
                await asyncio.sleep(_PROBE_INTERVAL_S)
            return samples

        tasks = [asyncio.create_task(generate(k, b)) for k, b in bodies]
        health = await probe()
        results = await asyncio.gather(*tasks)
    return Burst(list(results), health)


def _samples(response: httpx.Response) -> Any:
    body = strict_json(response.text)
    return decode_audio(body["audio"], body["dtype"]), body["sample_rate"]


def seeds_are_deterministic(s: Session) -> bool:
    """Whether identical seeded requests gave identical audio here (GEN-8 holds)."""
    if s.capabilities().deterministic_seed is False:
        return False
    try:
        first, second = s.audio("walk-A"), s.audio("walk-A-again")
    except Blocked:  # GEN-8's pair was not had: judge loosely; the kit's own errors propagate
        return False
    return first.samples.tobytes() == second.samples.tobytes()


@check("CON-1")
def concurrent_requests_get_what_they_get_alone(s: Session) -> Evidence:
    exact = seeds_are_deterministic(s)
    outcome = burst(s)
    compared = [(k, r) for k, r in outcome.results if s.generation(k).response.status_code == 200]
    if not compared:
        raise Blocked("GEN-1", "none of the concurrent requests succeeded alone")
    for key, response in compared:
        alone = s.audio(key)
        if response.status_code != 200:
            raise Failed(f"200 like {key!r} alone", describe(response), response)
        try:
            together, rate = _samples(response)
        except (ValueError, KeyError, TypeError, AudioCodecError) as exc:
            raise Failed("decodable audio like alone", f"{key}: {exc}", response) from None
        if exact:
            if together.tobytes() != alone.samples.tobytes() or rate != alone.sample_rate:
                raise Failed(
                    f"bit-identical audio to {key!r} alone (seeds are deterministic)",
                    "different audio: another request's output or state leaked in",
                    response,
                )
            continue
        _compare_loosely(s, key, together, rate, response)
    return Evidence(
        {
            "concurrent_requests": len(compared),
            "comparison": "bit-exact" if exact else "duration and transcript",
        }
    )


def _compare_loosely(
    s: Session, key: str, together: Any, rate: int, response: httpx.Response
) -> None:
    alone = s.audio(key)
    duration = len(together) / rate
    if abs(duration - alone.duration_s) > DURATION_TOLERANCE * alone.duration_s:
        raise Failed(
            f"a duration within 25 % of {alone.duration_s:.2f} s ({key!r} alone)",
            f"{duration:.2f} s",
            response,
        )
    judge = s.asr_judge_or_none()
    if judge is None:
        return
    from voicebox_api import to_float32

    heard = judging.judge_transcribe(judge, to_float32(together), rate)
    own = spec(key).text
    others = {spec(k).text for k in CORE_KEYS} - {own}
    if judging.cer(own, heard) >= min(judging.cer(o, heard) for o in others):
        raise Failed(f"speech of its own text {own!r}", f"heard {heard!r}", response)


@check("CON-2")
def concurrent_same_name_uploads_stay_apart(s: Session) -> Evidence:
    alone = {which: s.voice_prompt(which) for which in "AB"}
    order = ["A", "B", "A", "B"]
    uploads = asyncio.run(_upload_all(s, order))
    for which, response in zip(order, uploads, strict=True):
        if response.status_code != 200:
            raise Failed(
                f"200 for reference {which} uploaded as reference.wav", describe(response), response
            )
        prompt = json.loads(json.dumps(strict_json(response.text)["voice_prompt"]))
        other = "B" if which == "A" else "A"
        if prompt == alone[which]:
            continue
        if prompt == alone[other]:
            raise Failed(
                f"the voice prompt of reference {which}",
                f"the voice prompt of reference {other}: uploads with the same filename "
                "overwrote each other",
                response,
            )
        _judge_prompt_by_voice(s, which, prompt, response)
    return Evidence({"uploads": len(order), "filename": "reference.wav"})


async def _upload_all(s: Session, order: list[str]) -> list[httpx.Response]:
    async with s.async_client() as client:
        return list(await asyncio.gather(*(_upload(client, s, w) for w in order)))


async def _upload(client: AsyncProviderClient, s: Session, which: str) -> httpx.Response:
    clip = s.reference(which)
    return await client.request(
        "POST",
        "/v1/create_voice_prompt",
        retry=True,
        files={"audio": ("reference.wav", s.reference_wav(which), "audio/wav")},
        data={"reference_text": clip.text},
    )


def _judge_prompt_by_voice(
    s: Session, which: str, prompt: dict[str, Any], response: httpx.Response
) -> None:
    """Prompts are not reproducible: tell them apart by the voice they produce."""
    judge = s.speaker_judge()
    walk = spec(f"walk-{which}")
    generated = s.send("POST", "/v1/generate", json=walk.body(prompt), retry=True)
    if generated.status_code != 200:
        raise Failed(
            "the concurrently made prompt accepted by /v1/generate", describe(generated), generated
        )
    samples, rate = _samples(generated)
    from voicebox_api import to_float32

    embedding = judge.embed(to_float32(samples), rate)
    own = judge.similarity(embedding, judging.reference_embedding(s, which))
    other = judge.similarity(
        embedding, judging.reference_embedding(s, "B" if which == "A" else "A")
    )
    if own <= other:
        raise Failed(
            f"a voice closer to reference {which}",
            f"similarity {own:.3f} to {which}, {other:.3f} to the other",
            response,
        )


@check("CON-3")
def health_is_quick_during_generation(s: Session) -> Evidence:
    samples = [h for h in burst(s).health if h.generations_in_flight]
    if not samples:
        raise NotApplicable(
            "every generation finished before /health could be probed",
            "raise --conformance-concurrency so that generations overlap",
        )
    slowest = max(samples, key=lambda h: h.latency_s)
    if slowest.latency_s > HEALTH_DEADLINE_S:
        raise Failed(
            f"/health within {HEALTH_DEADLINE_S:g} s while generating",
            f"{slowest.latency_s:.2f} s with {slowest.generations_in_flight} generations in flight",
            slowest.response,
        )
    return Evidence({"probes": len(samples), "slowest_s": round(slowest.latency_s, 3)})
