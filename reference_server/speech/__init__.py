"""OpenAI-compatible ``POST /v1/audio/speech`` (SPEC.md §15) on the server's own backends."""
