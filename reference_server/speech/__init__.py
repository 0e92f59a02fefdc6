"""OpenAI-compatible ``POST /v1/audio/speech`` (SPEC.md §14) on the server's own backends."""
