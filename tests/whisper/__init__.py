"""Tests of the whisper area."""
