"""Test scaffolding shared by the tests and the measurements: the tiny random Qwen3-TTS
checkpoint. Not shipped in the wheel; production packages never import it.
"""
