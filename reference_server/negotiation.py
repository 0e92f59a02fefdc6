"""Content negotiation for ``/v1/generate`` (SPEC.md §14.1, RFC 9110 §12.5.1).

The client's ``Accept`` ranks media ranges by q-value; each type on offer gets the q of the most
specific range that matches it. The best q wins; on a tie a type the client named exactly beats
one it only allowed through a wildcard, and among those its own order counts, so that
``*/*`` keeps the JSON answer and ``application/vnd.voicebox.pcm-stream, application/json``
streams. None means nothing offered is acceptable: 406.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["negotiate"]


@dataclass(frozen=True)
class _Range:
    media: str
    q: float
    position: int

    def specificity(self, offered: str) -> int:
        """3 exact, 2 ``type/*``, 1 ``*/*``, 0 no match."""
        if self.media == offered:
            return 3
        kind = offered.split("/", 1)[0]
        if self.media == f"{kind}/*":
            return 2
        return 1 if self.media == "*/*" else 0


def negotiate(accept: str | None, offered: Sequence[str]) -> str | None:
    """The type of ``offered`` (in server preference order) to answer with, or None."""
    if accept is None or not accept.strip():
        return offered[0]
    ranges = _parse(accept)
    best: tuple[float, int, int, int] | None = None
    choice = None
    for preference, media in enumerate(offered):
        matches = [(r.specificity(media), r) for r in ranges if r.specificity(media)]
        if not matches:
            continue
        specificity, matched = max(matches, key=lambda pair: pair[0])
        if matched.q <= 0:
            continue
        exact = 1 if specificity == 3 else 0
        rank = (matched.q, exact, -matched.position if exact else 0, -preference)
        if best is None or rank > best:
            best, choice = rank, media
    return choice


def _parse(accept: str) -> list[_Range]:
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges.append(_Range(media.lower(), q, position))
    return ranges
