"""The streamed and WAV answers of /v1/generate (SPEC.md §14) as the mutants see them.

A mutant whose defect is in the audio (silence, a DC offset, a wrong rate) is a provider whose
every answer has that defect, so ``edit_samples`` applies it to the stream and the WAV file as
well; otherwise the §14 checks, which compare those answers to the JSON one, would catch the
mutant too. Defects of the JSON wire form itself (base64, member types) leave them alone.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

import numpy as np

from tests.conformance.rewrite import Exchange
from voicebox_api import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    STREAM_MEDIA_TYPE,
    WAV_MEDIA_TYPE,
    audio_frame,
    decode_wav,
    encode_wav,
    end_frame,
    header_frame,
)

SampleEdit = Callable[[np.ndarray, int], tuple[np.ndarray, int]]
_PREFIX = struct.Struct("<cI")


def wants_binary(ex: Exchange) -> bool:
    return ex.headers.get("accept") in (STREAM_MEDIA_TYPE, WAV_MEDIA_TYPE)


def edit_binary_samples(ex: Exchange, change: SampleEdit) -> None:
    media = ex.response_headers.get("content-type", "")
    if media == WAV_MEDIA_TYPE:
        wav = decode_wav(ex.response_body)
        samples, rate = change(wav.samples.astype(np.float32), wav.sample_rate)
        ex.response_body = encode_wav(np.asarray(samples, np.float32), rate, "float32")
    elif media == STREAM_MEDIA_TYPE:
        rate, samples = _stream_samples(ex.response_body)
        changed, new_rate = change(samples, rate)
        changed = np.asarray(changed, np.float32)
        if not MIN_SAMPLE_RATE <= new_rate <= MAX_SAMPLE_RATE:
            new_rate = rate  # a header cannot say it (STR-2 owns that); AUD-5 sees the JSON
        ex.response_body = (
            header_frame(new_rate, "float32")
            + audio_frame(changed, "float32")
            + end_frame(changed.size)
        )


def _stream_samples(body: bytes) -> tuple[int, np.ndarray]:
    offset, rate, audio = 0, 0, []
    while offset + _PREFIX.size <= len(body):
        kind, length = _PREFIX.unpack_from(body, offset)
        payload = body[offset + _PREFIX.size : offset + _PREFIX.size + length]
        if kind == b"H":
            rate = int(json.loads(payload)["sample_rate"])
        elif kind == b"A":
            audio.append(np.frombuffer(payload, "<f4"))
        offset += _PREFIX.size + length
    return rate, np.concatenate(audio).astype(np.float32)
