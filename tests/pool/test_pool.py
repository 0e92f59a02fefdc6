"""The pool's routing, fallback, health gating, breaker and prompt rules, on fake providers."""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
import httpx
import pytest

from reference_server.backends.synthetic import SyntheticBackend
from tests.pool.fakes import (
    BackendEngine,
    FakeNet,
    FakeProvider,
    reference_wav,
    refuse,
    unreachable,
)
from voicebox_api import (
    NO_RETRY,
    AsyncProviderClient,
    AsyncProviderPool,
    BreakerPolicy,
    LocalEngine,
    NoProviderError,
    PoolConfig,
    ProviderClient,
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderPool,
    Settings,
    UnavailableError,
)

PROMPT_A = {"engine": "fake-a", "id": 1}


def pool_of(net: FakeNet, **options: Any) -> ProviderPool:
    attempts = options.pop("max_attempts", 3)
    return ProviderPool(net.config(attempts), transport=net.transport(), rng=random.Random(1),
                        **options)  # fmt: skip


def test_one_provider_pool_sends_what_the_client_sends() -> None:
    sent: dict[str, list[tuple[str, str, dict[str, str], bytes]]] = {"pool": [], "client": []}
    settings = Settings(tts_remote_url="http://gpu.test:8000/x", tts_api_key="k1")

    def run(label: str, target: ProviderClient | ProviderPool) -> None:
        assert target.health().body.status == "healthy"
        prompt = target.create_voice_prompt(reference_wav(), "A reference.").voice_prompt
        target.generate("Hello there.", prompt, "en", seed=3)
        with pytest.raises(UnavailableError):
            target.generate("Busy now.", prompt, "en")

    def recorder(label: str) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            body = request.read()
            sent[label].append((request.method, str(request.url), dict(request.headers), body))
            if b"Busy" in body:
                return httpx.Response(503, json={"detail": "busy"})
            return FakeProvider("gpu.test").handle(request)

        return httpx.MockTransport(handle)

    sleeps: list[float] = []
    client = ProviderClient(settings=settings, transport=recorder("client"),
                            sleep=sleeps.append, rng=random.Random(0))  # fmt: skip
    run("client", client)
    pool = ProviderPool(PoolConfig.single(settings), transport=recorder("pool"))
    pool.clients()[next(iter(pool.clients()))]._rng = random.Random(0)  # type: ignore[attr-defined]
    for member in pool.clients().values():  # no sleeping in a test: same policy, fake sleep
        member._sleep = sleeps.append  # type: ignore[attr-defined]
    run("pool", pool)
    assert len(sent["pool"]) == len(sent["client"]) == 1 + 1 + 1 + 4  # 503 retried in place
    for ours, theirs in zip(sent["pool"], sent["client"], strict=True):
        assert ours[:2] == theirs[:2]
        assert comparable(ours[2]) == comparable(theirs[2])
        if not ours[3].startswith(b"--"):  # multipart bodies differ only in their boundary
            assert ours[3] == theirs[3]
    assert sleeps[:3] == sleeps[3:]  # the same retry schedule (same seeded jitter)


def comparable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in {"content-type", "content-length"}}


def test_language_routes_to_the_providers_that_declare_it() -> None:
    net = FakeNet(FakeProvider("a", languages=("en",)), FakeProvider("b", languages=("en", "de")))
    with pool_of(net) as pool:
        pool.poll_health()
        for _ in range(4):
            assert pool.generate("Hallo.", PROMPT_A, "de").provider == "b"
    assert not net.providers["a"].generates()


def test_config_languages_and_voices_route() -> None:
    net = FakeNet(FakeProvider("a"), FakeProvider("b"))
    config = net.config()
    specs = (config.providers[0], type(config.providers[1])(
        "http://b:8000", name="b", voices=frozenset({"narrator"})))  # fmt: skip
    pool = ProviderPool(PoolConfig(specs, health_interval_s=None), transport=net.transport())
    assert pool.generate("Hi.", PROMPT_A, voice="narrator").provider == "b"
    assert pool.generate("Hi.", PROMPT_A, voice="someone-else").provider == "a"


def test_unknown_language_everywhere_is_no_provider() -> None:
    net = FakeNet(FakeProvider("a", languages=("en",)))
    with pool_of(net) as pool:
        pool.poll_health()
        with pytest.raises(NoProviderError):
            pool.generate("Ciao.", PROMPT_A, "it")


def test_least_outstanding_prefers_the_idle_provider() -> None:
    net = FakeNet(FakeProvider("a"), FakeProvider("b"), FakeProvider("c"))
    pool = pool_of(net)
    core = pool._core
    core.by_name["a"].outstanding, core.by_name["b"].outstanding = 3, 1
    steps = core.plan_generate("en", None, PROMPT_A)
    assert [s.name for s in steps] == ["c", "b", "a"]


def test_connect_error_falls_over_to_the_next_provider() -> None:
    net = FakeNet(FakeProvider("a", fail=unreachable), FakeProvider("b"))
    pool = pool_of(net)
    pool._core.by_name["b"].outstanding = 5  # a is preferred, and down
    result = pool.generate("Hello.", PROMPT_A)
    assert (result.provider, result.tried) == ("b", ("a",))
    usage = pool.usage.snapshot()
    assert usage["a"].errors == 1
    assert usage["b"].ok == 1
    assert usage["b"].audio_seconds == pytest.approx(0.1)


@pytest.mark.parametrize("status", [500, 502, 503, 429, 401])
def test_these_statuses_fall_over(status: int) -> None:
    net = FakeNet(FakeProvider("a", fail=refuse(status)), FakeProvider("b"))
    pool = pool_of(net)
    pool._core.by_name["b"].outstanding = 5
    assert pool.generate("Hello.", PROMPT_A).provider == "b"


@pytest.mark.parametrize("status", [400, 404, 413])
def test_client_errors_do_not_fall_over(status: int) -> None:
    net = FakeNet(FakeProvider("a", fail=refuse(status)), FakeProvider("b"))
    pool = pool_of(net)
    pool._core.by_name["b"].outstanding = 5
    with pytest.raises(ProviderHTTPError) as caught:
        pool.generate("Hello.", PROMPT_A)
    assert caught.value.status == status
    assert not net.providers["b"].requests


def test_a_request_goes_to_at_most_max_attempts_providers() -> None:
    providers = [FakeProvider(h, fail=refuse(503)) for h in "abcd"]
    net = FakeNet(*providers)
    pool = pool_of(net, max_attempts=2)
    with pytest.raises(UnavailableError) as caught:
        pool.generate("Hello.", PROMPT_A)
    assert sum(len(p.requests) for p in providers) == 2
    assert "tried 2 providers" in "".join(caught.value.__notes__)


def test_two_providers_failing_alternately_end_in_bounded_attempts() -> None:
    calls = {"n": 0}

    def alternate(request: httpx.Request) -> httpx.Response | None:
        calls["n"] += 1
        return httpx.Response(503 if calls["n"] % 2 else 500, json={"detail": "no"})

    net = FakeNet(FakeProvider("a", fail=alternate), FakeProvider("b", fail=alternate))
    pool = pool_of(net, max_attempts=5)
    for _ in range(20):
        with pytest.raises(ProviderHTTPError):
            pool.generate("Hello.", PROMPT_A)
    assert calls["n"] <= 20 * 2  # each provider at most once per request


def test_breaker_opens_after_consecutive_failures_and_probes() -> None:
    now = [0.0]
    net = FakeNet(FakeProvider("a", fail=unreachable), FakeProvider("b"))
    pool = pool_of(net, breaker=BreakerPolicy(failure_threshold=2, open_s=10))
    for member in pool._core.members:
        member.breaker._clock = lambda: now[0]
    a, b = pool._core.by_name["a"], pool._core.by_name["b"]
    b.outstanding = 5
    pool.generate("One.", PROMPT_A)
    pool.generate("Two.", PROMPT_A)
    assert a.breaker.state == "open"
    before = len(net.providers["a"].requests)
    pool.generate("Three.", PROMPT_A)
    assert len(net.providers["a"].requests) == before  # no traffic while open
    now[0] = 11.0
    assert a.breaker.state == "half_open"
    net.providers["a"].fail = None
    assert pool.generate("Four.", PROMPT_A).provider == "a"  # the probe
    assert a.breaker.state == "closed"


def test_all_circuits_open_is_best_effort_not_refusal() -> None:
    net = FakeNet(FakeProvider("a", fail=unreachable))
    pool = pool_of(
        net, breaker=BreakerPolicy(failure_threshold=1, open_s=60), member_retry=NO_RETRY
    )
    for _ in range(3):
        with pytest.raises(ProviderConnectionError):
            pool.generate("Hello.", PROMPT_A)
    assert len(net.providers["a"].requests) == 3


@pytest.mark.parametrize("status", ["loading", "unhealthy"])
def test_loading_or_unhealthy_providers_get_no_traffic(status: str) -> None:
    net = FakeNet(FakeProvider("a", status=status), FakeProvider("b"))
    pool = pool_of(net)
    pool.poll_health()
    pool._core.by_name["b"].outstanding = 9
    for _ in range(3):
        assert pool.generate("Hello.", PROMPT_A).provider == "b"
    assert not net.providers["a"].generates()
    assert [s.health for s in pool.status()] == [status, "healthy"]


def test_prompt_is_recreated_for_another_engine_when_its_own_is_down() -> None:
    net = FakeNet(FakeProvider("a", engine="fake-a"), FakeProvider("b", engine="fake-b"))
    pool = pool_of(net)
    pool.poll_health()
    pool._core.by_name["b"].outstanding = 9
    made = pool.create_voice_prompt(reference_wav(), "Reference.")
    assert made.provider == "a"
    assert pool.generate("Hi.", made.voice_prompt).provider == "a"  # compatible first
    pool._core.by_name["b"].outstanding = 0
    assert pool.generate("Hi.", made.voice_prompt).provider == "a"  # even when b is idler
    net.providers["a"].fail = unreachable
    result = pool.generate("Hi.", made.voice_prompt)
    assert result.provider == "b"
    b_paths = [r.url.path for r in net.providers["b"].requests if "/v1/" in r.url.path]
    assert b_paths == ["/v1/create_voice_prompt", "/v1/generate"]
    pool.generate("Again.", made.voice_prompt)  # the re-created prompt is cached
    assert sum(1 for r in net.providers["b"].requests if "create" in r.url.path) == 1


def test_foreign_prompt_refusal_is_learnt_and_falls_over() -> None:
    net = FakeNet(FakeProvider("a", engine="fake-a"), FakeProvider("b", engine="fake-b"))
    pool = pool_of(net)
    pool.poll_health()
    pool._core.by_name["a"].outstanding = 9  # b first, which refuses a's prompt
    assert pool.generate("Hi.", PROMPT_A).provider == "a"
    assert pool._core.store.verdict("fake-b", PROMPT_A) is False
    pool._core.by_name["a"].outstanding = 9
    assert pool.generate("Hi.", PROMPT_A).tried == ()  # b is no longer tried


def test_local_engine_is_the_last_resort() -> None:
    net = FakeNet(FakeProvider("a", fail=unreachable), FakeProvider("b", fail=refuse(503)))
    engine = BackendEngine(SyntheticBackend())
    assert isinstance(engine, LocalEngine)
    pool = pool_of(net, local=engine)
    made = pool.create_voice_prompt(reference_wav(), "Reference.")
    assert made.provider == "local:synthetic"
    result = pool.generate("Hello there.", made.voice_prompt)
    assert result.provider == "local:synthetic"
    assert result.audio.duration_s > 0.5
    assert pool.usage.snapshot()["local:synthetic"].ok == 2


def test_local_engine_re_creates_a_remote_prompt() -> None:
    net = FakeNet(FakeProvider("a"))
    pool = pool_of(net, local=BackendEngine(SyntheticBackend()))
    made = pool.create_voice_prompt(reference_wav(), "Reference.")
    assert made.provider == "a"
    net.providers["a"].fail = unreachable
    assert pool.generate("Hello.", made.voice_prompt).provider == "local:synthetic"


def test_async_pool_falls_over_too() -> None:
    net = FakeNet(FakeProvider("a", fail=unreachable), FakeProvider("b"))

    async def main() -> tuple[str, tuple[str, ...]]:
        transport = httpx.MockTransport(net)
        async with AsyncProviderPool(net.config(), transport=transport) as pool:
            pool._core.by_name["b"].outstanding = 5
            await pool.poll_health()
            assert [s.breaker for s in pool.status()] == ["closed", "closed"]
            result = await pool.generate("Hello.", PROMPT_A)
            return result.provider, result.tried

    assert anyio.run(main) == ("b", ("a",))


def test_idle_ties_go_to_the_provider_that_answered_faster() -> None:
    net = FakeNet(FakeProvider("a"), FakeProvider("b"))
    pool = pool_of(net)
    pool._core.by_name["a"].recent_s, pool._core.by_name["b"].recent_s = 0.4, 0.05
    assert [s.name for s in pool._core.plan_generate("en", None, PROMPT_A)] == ["b", "a"]
    pool._core.by_name["b"].outstanding = 1  # busy beats fast
    assert [s.name for s in pool._core.plan_generate("en", None, PROMPT_A)] == ["a", "b"]


def test_all_providers_loading_is_no_provider_and_no_traffic() -> None:
    net = FakeNet(FakeProvider("a", status="loading"), FakeProvider("b", status="unhealthy"))
    pool = pool_of(net)
    pool.poll_health()
    with pytest.raises(NoProviderError, match="a: loading, b: unhealthy"):
        pool.generate("Hello.", PROMPT_A)
    assert not net.providers["a"].generates()
    assert not net.providers["b"].generates()


def test_ping_pong_failures_end_within_max_attempts() -> None:
    """Each failure hands the fault to the other provider: a request that fails on one finds
    the other failing too. Every request still ends after at most two sends."""
    state = {"failing": "a"}

    def fails_when_its_turn(host: str) -> Any:
        def answer(request: httpx.Request) -> httpx.Response | None:
            if request.url.path.endswith("/health") or state["failing"] != host:
                return None
            state["failing"] = "b" if host == "a" else "a"
            return httpx.Response(503, json={"detail": "busy"})

        return answer

    net = FakeNet(*(FakeProvider(h, fail=fails_when_its_turn(h)) for h in "ab"))
    pool = pool_of(net, max_attempts=2)
    failed = 0
    for i in range(20):
        sent_before = sum(len(p.requests) for p in net.providers.values())
        try:
            pool.generate(f"Request {i}.", PROMPT_A)
        except UnavailableError:
            failed += 1
        assert sum(len(p.requests) for p in net.providers.values()) - sent_before <= 2
    assert 0 < failed <= 20


def test_background_polling_finds_a_loading_provider() -> None:
    net = FakeNet(FakeProvider("a", status="loading"), FakeProvider("b"))
    config = PoolConfig(net.config().providers, health_interval_s=0.05, settings=Settings())
    with ProviderPool(config, transport=net.transport()) as pool:
        for _ in range(200):
            if all(s.health is not None for s in pool.status()):
                break
            time.sleep(0.01)
        assert [s.health for s in pool.status()] == ["loading", "healthy"]
        assert pool.generate("Hello.", PROMPT_A).provider == "b"


def test_async_background_polling_and_local_re_creation() -> None:
    net = FakeNet(FakeProvider("a"), FakeProvider("b", status="loading"))

    async def main() -> list[str]:
        config = PoolConfig(net.config().providers, health_interval_s=0.05, settings=Settings())
        local = BackendEngine(SyntheticBackend())
        async with AsyncProviderPool(config, transport=httpx.MockTransport(net),
                                     local=local) as pool:  # fmt: skip
            for _ in range(200):
                if all(s.health is not None for s in pool.status()):
                    break
                await anyio.sleep(0.01)
            made = await pool.create_voice_prompt(reference_wav(), "Reference.")
            first = await pool.generate("Hello.", made.voice_prompt)
            net.providers["a"].fail = unreachable
            second = await pool.generate("Hello.", made.voice_prompt)
            return [made.provider, first.provider, second.provider]

    assert anyio.run(main) == ["a", "a", "local:synthetic"]
    assert not net.providers["b"].generates()


def test_one_provider_keeps_sending_what_it_refuses() -> None:
    """A 422 teaches a one-provider pool nothing: every request is sent, as ProviderClient
    would, and answered with the provider's own error."""
    net = FakeNet(FakeProvider("a", languages=("en",)))
    pool = ProviderPool(PoolConfig.single(Settings(tts_remote_url="http://a:8000")),
                        transport=net.transport())  # fmt: skip
    for _ in range(3):
        with pytest.raises(ProviderHTTPError) as caught:
            pool.generate("Hallo.", PROMPT_A, "de")
        assert caught.value.status == 422
    assert len(net.providers["a"].generates()) == 3
    assert pool.generate("Hello.", PROMPT_A, "en").provider == "a:8000"


def test_a_refused_language_does_not_brand_the_prompt_foreign() -> None:
    net = FakeNet(FakeProvider("a", languages=("en",)), FakeProvider("b"))
    pool = pool_of(net)
    pool._core.by_name["a"].health = None  # capabilities unknown: the pool guesses
    pool._core.by_name["b"].outstanding = 9
    assert pool.generate("Hallo.", PROMPT_A, "de").provider == "b"
    assert pool._core.store.verdict("fake-a", PROMPT_A) is not False


def test_one_provider_with_a_local_engine_tries_the_provider_first() -> None:
    net = FakeNet(FakeProvider("a"))
    config = PoolConfig.single(Settings(tts_remote_url="http://a:8000"))
    pool = ProviderPool(config, transport=net.transport(), local=BackendEngine(SyntheticBackend()))
    made = pool.create_voice_prompt(reference_wav(), "Reference.")
    assert made.provider == "a:8000"
    assert pool.generate("Hello.", made.voice_prompt).provider == "a:8000"


def test_results_keep_their_short_repr() -> None:
    pool = pool_of(FakeNet(FakeProvider("a")))
    assert repr(pool.create_voice_prompt(reference_wav())).startswith("VoicePromptResult(<")
    assert repr(pool.generate("Hi.", PROMPT_A)).startswith("GenerateResult(<")


def test_an_abandoned_probe_does_not_wedge_the_breaker() -> None:
    now = [0.0]

    def explode(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt  # stands for a cancellation mid-request

    net = FakeNet(FakeProvider("a", fail=unreachable))
    pool = pool_of(net, breaker=BreakerPolicy(failure_threshold=1, open_s=1),
                   member_retry=NO_RETRY)  # fmt: skip
    breaker = pool._core.by_name["a"].breaker
    breaker._clock = lambda: now[0]
    with pytest.raises(ProviderConnectionError):
        pool.generate("Hello.", PROMPT_A)
    now[0] = 2.0
    net.providers["a"].fail = explode
    with pytest.raises(KeyboardInterrupt):
        pool.generate("Hello.", PROMPT_A)
    assert breaker.allows()


def test_one_provider_async_pool_sends_what_the_async_client_sends() -> None:
    settings = Settings(tts_remote_url="http://gpu.test:8000", tts_api_key="k1")

    async def run(target: AsyncProviderClient | AsyncProviderPool) -> None:
        await target.health()
        prompt = (await target.create_voice_prompt(reference_wav(), "Ref.")).voice_prompt
        await target.generate("Hello there.", prompt, "de", seed=3)

    def recorded(use_pool: bool) -> list[tuple[str, str, bytes]]:
        sent: list[tuple[str, str, bytes]] = []

        def handle(request: httpx.Request) -> httpx.Response:
            body = request.read()
            keep = b"" if body.startswith(b"--") else body  # multipart boundaries differ
            sent.append((request.method, str(request.url), keep))
            return FakeProvider("gpu.test").handle(request)

        async def main() -> None:
            transport = httpx.MockTransport(handle)
            if use_pool:
                async with AsyncProviderPool(PoolConfig.single(settings),
                                             transport=transport) as pool:  # fmt: skip
                    await run(pool)
            else:
                async with AsyncProviderClient(settings=settings, transport=transport) as client:
                    await run(client)

        anyio.run(main)
        return sent

    assert recorded(use_pool=True) == recorded(use_pool=False)
