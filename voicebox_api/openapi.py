"""``python -m voicebox_api.openapi > openapi.json``: print the OpenAPI document of SPEC.md,
generated from the models; a test fails when the committed one drifts from it."""

import sys

from voicebox_api._openapi import build_openapi, render

__all__ = ["build_openapi", "render"]

if __name__ == "__main__":
    sys.stdout.write(render())
