"""Benchmarks for Voicebox providers: Locust scenarios, an open-loop runner, load balancing
behind nginx, and the harness's own checks. See ``benchmarks/README.md``.

Every tool writes one results document (``benchmarks.results``); its JSON Schema is committed as
``benchmarks/results.schema.json`` and regenerated with ``python -m benchmarks.results``.
"""
