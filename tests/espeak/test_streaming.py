"""espeak streams sentence by sentence, and a seeded stream is the whole clip (SPEC.md STR-6)."""

from __future__ import annotations

import numpy as np

from reference_server.backends.base import GenerateJob, StreamingTTSBackend
from reference_server.backends.espeak import EspeakBackend, EspeakVoice
from reference_server.backends.sentences import split_sentences

TEXT = "The fox ran into the wood. It was late! Did anyone see it? Nobody did."


def test_sentences_split_at_terminal_punctuation() -> None:
    assert split_sentences(TEXT) == [
        "The fox ran into the wood.",
        "It was late!",
        "Did anyone see it?",
        "Nobody did.",
    ]
    assert split_sentences("no punctuation at all") == ["no punctuation at all"]


def test_a_seeded_stream_concatenates_to_the_whole_clip(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    assert isinstance(backend, StreamingTTSBackend)
    job = GenerateJob(text=TEXT, voice=voices[0], language="en", seed=11)
    pieces = list(backend.stream(job))
    assert len(pieces) == 4
    whole = backend.generate([job])[0]
    assert np.concatenate([p.samples for p in pieces]).tobytes() == whole.samples.tobytes()


def test_one_sentence_is_one_piece_and_closing_early_stops(
    backend: EspeakBackend, voices: tuple[EspeakVoice, EspeakVoice]
) -> None:
    job = GenerateJob(text="Just this.", voice=voices[1], language="en", seed=2)
    assert len(list(backend.stream(job))) == 1
    stream = backend.stream(GenerateJob(text=TEXT, voice=voices[1], language="en", seed=2))
    next(stream)
    stream.close()  # what the server does when its reader leaves: no further sentence is made
