"""The weight-free espeak-ng TTS backend (see ``backend``)."""

from reference_server.backends.espeak.backend import EspeakBackend, EspeakVoice

__all__ = ["EspeakBackend", "EspeakVoice"]
