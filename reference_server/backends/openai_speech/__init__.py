"""The bridge: any OpenAI-compatible ``/v1/audio/speech`` server as a Voicebox TTS backend."""

from reference_server.backends.openai_speech.backend import (
    BridgeSettings,
    OpenAISpeechBackend,
    StreamingOpenAISpeechBackend,
)

__all__ = ["BridgeSettings", "OpenAISpeechBackend", "StreamingOpenAISpeechBackend"]
