__version__ = "0.2.0"

# The Provider API version that this kit checks and that the reference server implements (SPEC.md).
SPEC_VERSION = "0.3"
