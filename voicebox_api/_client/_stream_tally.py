"""The seconds of audio a stream delivered, counted as its chunks pass (for usage metering)."""

from __future__ import annotations

from voicebox_api._models import StreamHeader
from voicebox_api._stream import StreamAudio, StreamChunk

__all__ = ["StreamTally"]


class StreamTally:
    """Counts the samples of the audio chunks that passed, at the header's rate."""

    def __init__(self) -> None:
        self.sample_rate = 0
        self.samples = 0
        self.chunks = 0

    def count(self, chunk: StreamChunk) -> StreamChunk:
        self.chunks += 1
        if isinstance(chunk, StreamHeader):
            self.sample_rate = chunk.sample_rate
        elif isinstance(chunk, StreamAudio):
            self.samples += chunk.num_samples
        return chunk

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate if self.sample_rate else 0.0
