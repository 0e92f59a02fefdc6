"""The kit's measurements of its own parts (conformance cost, server overhead, harness accuracy,
espeak speed, Qwen batching, the ASR judge's calibration). Run from a checkout, e.g.
``python -m measurements.selfcheck``; not shipped in the wheel. Their figures are in the README.
"""
