"""The checks, one per SPEC.md clause, laid out by SPEC.md section.

Importing this package registers every check; ``registered()`` lists them in SPEC.md order.
"""

from conformance.checks import (  # noqa: F401 - imported to register their checks
    audio,
    auth,
    concurrency,
    errors,
    generate,
    health,
    languages,
    openai,
    robustness,
    speech,
    speech_openai,
    streaming,
    transcribe,
    voice_prompt,
)
from conformance.engine.registry import Check, registered

__all__ = ["Check", "registered"]
