"""The pool against three real reference servers on loopback: one killed mid-run, one slow,
one refusing a language. Slow: each test starts servers (about 2 s each, in parallel)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestration.processes import ReferenceServerProcess
from reference_server.backends.synthetic import SyntheticBackend
from tests.pool.fakes import reference_wav
from voicebox_api import (
    BreakerPolicy,
    PoolConfig,
    ProviderPool,
    ProviderSpec,
    ProviderTransportError,
    Settings,
)

pytestmark = pytest.mark.slow

SERVER_ARGS = ("--backend", "synthetic", "--whisper", "none", "--cache-bytes", "0")


def test_the_synthetic_backend_can_speak_fewer_languages() -> None:
    backend = SyntheticBackend.from_options({"languages": "en+fr"})
    assert backend.languages == ("en", "fr")
    with pytest.raises(ValueError, match="subset"):
        SyntheticBackend.from_options({"languages": "en+xx"})


@contextlib.contextmanager
def servers(*options: str) -> Iterator[list[ReferenceServerProcess]]:
    processes = [
        ReferenceServerProcess(*SERVER_ARGS, *(("--backend-options", o) if o else ()))
        for o in options
    ]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(len(processes)) as starter:
        for process in starter.map(stack.enter_context, processes):
            assert process.base_url
        yield processes


def pool_for(processes: list[ReferenceServerProcess], **options: object) -> ProviderPool:
    specs = tuple(
        ProviderSpec(p.base_url, name=name) for p, name in zip(processes, "abc", strict=False)
    )
    settings = Settings(connect_timeout=1.0, read_timeout=10.0)
    config = PoolConfig(specs, max_attempts=3, health_interval_s=0.2, settings=settings)
    return ProviderPool(config, **options)  # type: ignore[arg-type]


def test_kill_slow_and_refusing_providers_lose_no_request() -> None:
    with servers("", "latency_ms=150", "languages=en") as processes:
        pool = pool_for(processes, breaker=BreakerPolicy(failure_threshold=2, open_s=30))
        try:
            pool.poll_health()
            prompt = pool.create_voice_prompt(reference_wav(), "A reference.").voice_prompt
            languages = ["en", "de"] * 30

            def one(index: int) -> tuple[str, str]:
                if index == 20:
                    processes[0].process.kill()  # a, mid-run, without a goodbye
                result = pool.generate(f"Request {index}.", prompt, languages[index])
                return languages[index], result.provider

            with ThreadPoolExecutor(4) as workers:
                served = list(workers.map(one, range(len(languages))))
            usage = pool.usage.snapshot()
        finally:
            pool.close()
    assert len(served) == 60  # no request lost: every one came back with audio
    assert not [p for language, p in served if language == "de" and p == "c"]  # c speaks en only
    burst = usage["a"].errors
    assert 1 <= burst <= 2 + 4  # breaker threshold, plus the requests already in flight
    assert sum(u.ok for u in usage.values()) == 60 + 1  # and the voice prompt
    later = [p for _, p in served[40:]]
    assert "a" not in later


def test_least_outstanding_sends_less_to_the_slow_provider() -> None:
    with servers("", "latency_ms=300") as processes:
        pool = pool_for(processes)
        try:
            pool.poll_health()
            prompt = pool.create_voice_prompt(reference_wav(), "A reference.").voice_prompt
            with ThreadPoolExecutor(4) as workers:
                served = list(
                    workers.map(lambda i: pool.generate(f"Hi {i}.", prompt).provider, range(40))
                )
        finally:
            pool.close()
    assert served.count("b") < served.count("a")


def test_all_providers_down_fails_fast_and_bounded() -> None:
    with servers("", "") as processes:
        pool = pool_for(processes)
        prompt = pool.create_voice_prompt(reference_wav(), "A reference.").voice_prompt
        for process in processes:
            process.process.kill()
            process.process.wait(timeout=30)
        started = time.monotonic()
        try:
            for _ in range(10):
                with pytest.raises(ProviderTransportError) as caught:
                    pool.generate("Anyone?", prompt)
                assert caught.value.attempts == 1
        finally:
            pool.close()
    assert pool.usage.snapshot()["a"].errors + pool.usage.snapshot()["b"].errors <= 20
    assert time.monotonic() - started < 10  # connection refused is immediate; nothing loops


def test_the_kits_espeak_backend_as_local_fallback() -> None:
    """The LocalEngine protocol with a real engine: the remote provider's prompt is re-created
    on espeak from the reference recording the pool kept, when the remote one goes down."""
    import torch

    from conformance.engine.references import reference_voices
    from reference_server.backends.espeak import EspeakBackend
    from tests.pool.fakes import BackendEngine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors; a thread pool only spins on a shared machine
    backend = EspeakBackend()
    clip, _ = reference_voices()
    try:
        with servers("") as (server,):
            spec = ProviderSpec(server.base_url, name="remote")
            config = PoolConfig((spec,), health_interval_s=None)
            with ProviderPool(config, local=BackendEngine(backend)) as pool:
                made = pool.create_voice_prompt(clip.audio_bytes, clip.text)
                assert made.provider == "remote"
                assert pool.generate("Hello there.", made.voice_prompt).provider == "remote"
                server.process.kill()
                server.process.wait(timeout=30)
                result = pool.generate("Hello there.", made.voice_prompt)
        assert result.provider == "local:espeak"
        assert result.tried == ("remote",)
        assert result.audio.duration_s > 0.3
    finally:
        backend.close()
        torch.set_num_threads(threads)
