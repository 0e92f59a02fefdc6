"""The weight-free espeak-ng TTS backend (see ``backend``) and its engine: one espeak-ng per
process, driven from a worker process (see ``_engine``)."""

from reference_server.backends.espeak._engine import SynthesisRequest, engine_info, synthesize
from reference_server.backends.espeak.backend import EspeakBackend, EspeakVoice

__all__ = ["EspeakBackend", "EspeakVoice", "SynthesisRequest", "engine_info", "synthesize"]
