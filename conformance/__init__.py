"""voicebox-provider-kit: the Voicebox external-provider API (SPEC.md), its client and its checks.

This package owns the protocol. The reference server, the benchmarks and the reports import
the models, the codec and the client from here instead of redefining them.
"""

from conformance._version import SPEC_VERSION, __version__

__all__ = ["SPEC_VERSION", "__version__"]
