"""SPEC.md §16: hostile traffic is refused quickly, and the provider stays usable.

Opt-in (``--conformance-robustness``): these checks send a decompression bomb, trickled uploads,
a burst of concurrent requests and planted credentials, which an operator may not want sent to
a shared box. Without the option each is SKIPPED and says how to enable it.
"""

from __future__ import annotations

import asyncio
import functools
import io
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx
import numpy as np
import soundfile as sf

from conformance.checks import concurrency
from conformance.checks._expect import describe
from conformance.engine.outcome import Blocked, Evidence, Failed, NotApplicable
from conformance.engine.registry import check

if TYPE_CHECKING:
    from conformance.engine.session import Session

BOMB_SECONDS: Final = 590
BOMB_RATE: Final = 192_000
BOMB_CHANNELS: Final = 2
BOMB_DEADLINE_S: Final = 2.0
TRICKLE_CONNECTIONS: Final = 20
TRICKLE_DECLARED_BYTES: Final = 1024 * 1024
TRICKLE_DEADLINE_S: Final = 30.0
_POLL_S: Final = 0.25
BURST_SIZE: Final = 64
REFUSAL_DEADLINE_S: Final = 1.0
CANARY_KEY: Final = "vbx-canary-3f9d1c7e5a"
_ENABLE: Final = "--conformance-robustness (it sends hostile traffic)"


def _require_robustness(s: Session) -> None:
    if not s.options.robustness:
        raise NotApplicable("the robustness level is off", enable=_ENABLE)


# --- ROB-1: decompression bombs ---------------------------------------------------------------


@functools.cache
def bomb_flac() -> bytes:
    """590 s of 192 kHz stereo silence: about 440 KB of FLAC, 906 MB once decoded to float32."""
    buffer = io.BytesIO()
    block = np.zeros((BOMB_RATE * 10, BOMB_CHANNELS), dtype=np.int16)
    with sf.SoundFile(
        buffer,
        "w",
        samplerate=BOMB_RATE,
        channels=BOMB_CHANNELS,
        format="FLAC",
        subtype="PCM_16",
    ) as out:
        for _ in range(BOMB_SECONDS // 10):
            out.write(block)
    return buffer.getvalue()


@check("ROB-1")
def a_decompression_bomb_is_refused_quickly(s: Session) -> Evidence:
    _require_robustness(s)
    bomb = bomb_flac()
    started = time.perf_counter()
    response = s.upload_prompt(bomb, "bomb.flac", "audio/flac", "silence", retry=False)
    elapsed = time.perf_counter() - started
    facts = {"upload_bytes": len(bomb), "seconds": round(elapsed, 3)}
    if response.status_code not in (413, 422):
        raise Failed("413 or 422 for the bomb", describe(response), response, **facts)
    if elapsed > BOMB_DEADLINE_S:
        raise Failed(
            f"a refusal within {BOMB_DEADLINE_S:g} s",
            f"{response.status_code} after {elapsed:.1f} s",
            response,
            **facts,
        )
    return Evidence(facts, response)


# --- ROB-2: trickled uploads ------------------------------------------------------------------


@dataclass(frozen=True)
class _Trickle:
    cut_after_s: float | None
    """When the provider answered or closed; None if it never did within the deadline."""
    answer: str


def _open(url: str) -> socket.socket:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        raise NotApplicable("the trickle check speaks plain HTTP only", enable="an http:// URL")
    return socket.create_connection((parts.hostname or "localhost", port), timeout=5)


_BOUNDARY: Final = "vbxtrickle"
_FILE_PART_HEAD: Final = (
    f"--{_BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
    "Content-Type: audio/wav\r\n\r\n"
)


def _trickle_head(s: Session, host: str) -> bytes:
    """Headers declaring a large multipart body, and the start of its file part: from here on
    every byte is file content, so only the body's pace can end the request."""
    boundary = _BOUNDARY
    headers = [
        "POST /v1/create_voice_prompt HTTP/1.1",
        f"Host: {host}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {TRICKLE_DECLARED_BYTES}",
    ]
    if s.options.api_key:
        headers.append(f"X-API-Key: {s.options.api_key}")
    return ("\r\n".join(headers) + "\r\n\r\n" + _FILE_PART_HEAD).encode()


def _trickle_all(s: Session) -> list[_Trickle]:
    url = s.options.provider_url
    host = urlsplit(url).netloc
    sockets = [_open(url) for _ in range(TRICKLE_CONNECTIONS)]
    started = time.monotonic()
    cut: dict[int, _Trickle] = {}
    try:
        for sock in sockets:
            sock.sendall(_trickle_head(s, host))
            sock.setblocking(False)
        last_byte = started
        while len(cut) < len(sockets) and time.monotonic() - started < TRICKLE_DEADLINE_S:
            send = time.monotonic() - last_byte >= 1.0
            last_byte = time.monotonic() if send else last_byte
            for index, sock in enumerate(sockets):
                if index not in cut and (answer := _poll(sock, send=send)) is not None:
                    cut[index] = _Trickle(round(time.monotonic() - started, 2), answer)
            time.sleep(_POLL_S)
    finally:
        for sock in sockets:
            sock.close()
    return [cut.get(i, _Trickle(None, "")) for i in range(len(sockets))]


def _poll(sock: socket.socket, *, send: bool) -> str | None:
    """The provider's answer (a status line, or 'closed') once it has cut the connection, else
    None; with ``send``, one more byte of the body first."""
    try:
        data = sock.recv(4096)
    except BlockingIOError:
        data = None
    except OSError:
        return "closed"
    if data is not None:
        return data.split(b"\r\n", 1)[0].decode("latin-1") if data else "closed"
    if not send:
        return None
    try:
        sock.send(b"\0")
    except BlockingIOError:
        return None
    except OSError:
        return "closed"
    return None


@check("ROB-2")
def a_trickled_upload_is_cut_off_and_uploads_then_work(s: Session) -> Evidence:
    _require_robustness(s)
    s.voice_prompt("A")  # uploads work at all (VP-1), or this is blocked
    trickles = _trickle_all(s)
    held = [t for t in trickles if t.cut_after_s is None]
    facts: dict[str, Any] = {
        "connections": len(trickles),
        "cut_after_s": [t.cut_after_s for t in trickles],
        "answers": sorted({t.answer for t in trickles if t.answer}),
    }
    if held:
        raise Failed(
            f"every trickled body answered or closed within {TRICKLE_DEADLINE_S:g} s",
            f"{len(held)} of {len(trickles)} connections still open",
            **facts,
        )
    text = s.reference("A").text
    response = s.upload_prompt(s.reference_wav("A"), "a.wav", "audio/wav", text, retry=False)
    if response.status_code != 200:
        raise Failed("200 for a normal upload afterwards", describe(response), response, **facts)
    return Evidence(facts, response)


# --- ROB-3: bursts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    response: httpx.Response
    seconds: float


async def _burst(s: Session, body: dict[str, Any]) -> list[_Answer]:
    async with s.async_client() as client:

        async def one() -> _Answer:
            started = time.perf_counter()
            response = await client.request("POST", "/v1/generate", json=body)
            return _Answer(response, time.perf_counter() - started)

        return list(await asyncio.gather(*(one() for _ in range(BURST_SIZE))))


@check("ROB-3")
def a_burst_gets_fast_refusals_and_the_provider_recovers_at_once(s: Session) -> Evidence:
    _require_robustness(s)
    prompt = s.voice_prompt("A")
    body = {"text": "Hello.", "voice_prompt": prompt, "language": "en"}
    alone = s.send("POST", "/v1/generate", json=body, retry=True)
    if alone.status_code != 200:
        raise Blocked("GEN-1", f"/v1/generate answered {alone.status_code} to a valid request")
    _require_a_free_event_loop(s)
    answers = asyncio.run(_burst(s, body))
    refused = [a for a in answers if a.response.status_code in (429, 503)]
    facts: dict[str, Any] = {
        "burst": len(answers),
        "statuses": sorted({a.response.status_code for a in answers}),
        "refused": len(refused),
        "slowest_refusal_s": round(max((a.seconds for a in refused), default=0.0), 3),
    }
    facts["refusals_with_retry_after"] = sum("retry-after" in a.response.headers for a in refused)
    for answer in refused:  # their Retry-After is ERR-8's to judge
        if answer.seconds > REFUSAL_DEADLINE_S:
            raise Failed(
                f"every refusal within {REFUSAL_DEADLINE_S:g} s",
                f"{answer.response.status_code} after {answer.seconds:.2f} s",
                answer.response,
                **facts,
            )
    after = s.send("POST", "/v1/generate", json=body)
    facts["after_burst"] = after.status_code
    if after.status_code != 200:
        raise Failed("200 right after the burst", describe(after), after, **facts)
    return Evidence(facts, after)


def _require_a_free_event_loop(s: Session) -> None:
    """A provider whose generations stall its whole server (CON-3 fails) cannot answer anything
    quickly during a burst; that is CON-3's finding, so this clause is not judged."""
    stalled = [
        h for h in concurrency.burst(s).health if h.generations_in_flight
        and h.latency_s > concurrency.HEALTH_DEADLINE_S
    ]  # fmt: skip
    if stalled:
        raise Blocked("CON-3", "/health stalls while generations run")


# --- ROB-4: credentials -----------------------------------------------------------------------


def _planted(s: Session) -> list[httpx.Response]:
    keys = [CANARY_KEY, *([s.options.api_key] if s.options.api_key else [])]
    responses: list[httpx.Response] = []
    wav = s.reference_wav("A")
    for key in keys:
        query = f"?api_key={key}&key={key}&token={key}&access_token={key}"
        responses += [
            s.send("GET", "/health" + query, auth="none"),
            s.send(
                "POST",
                "/v1/generate",
                auth="none",
                headers={"X-API-Key": key + "-x"},
                json={"text": "Hi.", "voice_prompt": {"api_key": key}, "api_key": key},
            ),
            s.send(
                "POST",
                "/v1/generate" + query,
                auth="none",
                headers={"Authorization": f"Bearer {key}-x"},
                json={"text": "Hi.", "voice_prompt": {"key": key}},
            ),
            s.send(
                "POST",
                "/v1/create_voice_prompt" + query,
                auth="none",
                files={"audio": ("a.wav", wav, "audio/wav")},
                data={"reference_text": "hi", "api_key": key, "token": key},
            ),
        ]
    return responses


@check("ROB-4")
def no_response_carries_a_credential(s: Session) -> Evidence:
    _require_robustness(s)
    secrets = [CANARY_KEY, *([s.options.api_key] if s.options.api_key else [])]
    responses = _planted(s)
    for response in responses:
        seen = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in secrets:
            if secret in seen:
                where = "body" if secret in response.text else "headers"
                raise Failed(
                    "no credential in any response",
                    f"the {where} of {response.status_code} for {response.request.method} "
                    f"{response.request.url.path} carries a key the client sent",
                    response,
                )
    return Evidence({"responses": len(responses), "keys_planted": len(secrets)})
