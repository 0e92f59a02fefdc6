"""The typed client of the Provider API (SPEC.md), blocking and asynchronous.

::

    from voicebox_api._client import ProviderClient

    with ProviderClient("http://gpu-box:8000", api_key="...") as client:
        prompt = client.create_voice_prompt(wav_bytes, "Reference transcript.")
        result = client.generate("Hello there.", prompt.voice_prompt, seed=7)
        result.audio.samples, result.audio.sample_rate

Configuration comes from the seed's environment variables (``voicebox_api._settings``), explicit
arguments winning. Connect errors, 429 and 503 are retried with capped exponential backoff and
full jitter, honouring ``Retry-After``; nothing else is retried (SPEC.md Appendix B). Failures
raise the typed errors of ``voicebox_api._errors``, each with a curl command that reproduces the
request. ``request()`` sends any request, malformed ones included, and returns the raw answer.
"""

from voicebox_api._client._async import AsyncProviderClient
from voicebox_api._client._async_pool import AsyncProviderPool
from voicebox_api._client._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from voicebox_api._client._core import USER_AGENT, ExchangeObserver
from voicebox_api._client._endpoints import (
    WRONG_API_KEY,
    AuthMode,
    RequestOptions,
    Target,
    audio_content_type,
)
from voicebox_api._client._health_monitor import PollSchedule
from voicebox_api._client._local import LocalEngine
from voicebox_api._client._pool import ProviderPool
from voicebox_api._client._pool_config import POOL_ENV_VARIABLES, PoolConfig, ProviderSpec
from voicebox_api._client._pool_core import (
    LocalEngineError,
    NoProviderError,
    ProviderStatus,
    RoutedGenerateResult,
    RoutedVoicePromptResult,
    RoutingPolicy,
)
from voicebox_api._client._prompts import prompt_tag
from voicebox_api._client._results import (
    Exchange,
    GenerateResult,
    HealthResult,
    TranscribeResult,
    TranscriptionResult,
    VoicePromptResult,
)
from voicebox_api._client._retry import (
    NO_RETRY,
    RETRYABLE_STATUSES,
    RetryPolicy,
    RetrySchedule,
)
from voicebox_api._client._sync import ProviderClient
from voicebox_api._client._usage import ProviderUsage, UsageMeter, cost_per_audio_hour

__all__ = [
    "NO_RETRY",
    "POOL_ENV_VARIABLES",
    "RETRYABLE_STATUSES",
    "USER_AGENT",
    "WRONG_API_KEY",
    "AsyncProviderClient",
    "AsyncProviderPool",
    "AuthMode",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Exchange",
    "ExchangeObserver",
    "GenerateResult",
    "HealthResult",
    "LocalEngine",
    "LocalEngineError",
    "NoProviderError",
    "PollSchedule",
    "PoolConfig",
    "ProviderClient",
    "ProviderPool",
    "ProviderSpec",
    "ProviderStatus",
    "ProviderUsage",
    "RequestOptions",
    "RetryPolicy",
    "RetrySchedule",
    "RoutedGenerateResult",
    "RoutedVoicePromptResult",
    "RoutingPolicy",
    "Target",
    "TranscribeResult",
    "TranscriptionResult",
    "UsageMeter",
    "VoicePromptResult",
    "audio_content_type",
    "cost_per_audio_hour",
    "prompt_tag",
]
