"""The cost section: dollars per hour of generated audio, next to the latency it came with.

A GPU rented at ``P`` dollars an hour that sustains ``r`` seconds of audio per second makes
``r`` audio-hours an hour, so an audio-hour costs ``P / r`` (``voicebox_api.cost_per_audio_hour``).
"Sustainable" is the highest audio throughput among the *valid* runs of a series: an invalid
run measured the load generator or an overload, not a rate the provider can hold.

Prices come from ``--gpu-price LABEL=USD_PER_HOUR``: LABEL is ``provider`` (every run of the
provider under test), ``reference`` (the baseline's runs) or one run's exact label; the most
specific price wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reports.markdown import cell, table
from reports.runs import RunView
from reports.sections.benchmarks import fmt
from voicebox_api import cost_per_audio_hour

__all__ = ["cost_section", "parse_gpu_price", "price_for"]


def parse_gpu_price(text: str) -> tuple[str, float]:
    """``LABEL=USD_PER_HOUR`` to its parts; ValueError with a readable reason."""
    label, sep, price = text.rpartition("=")
    if not sep or not label.strip():
        raise ValueError(f"{text!r} is not LABEL=USD_PER_HOUR (e.g. provider=2.49)")
    try:
        value = float(price)
    except ValueError:
        raise ValueError(f"{price!r} in {text!r} is not a price in dollars per hour") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r}: the price must be a finite number >= 0")
    return label.strip(), value


def price_for(view: RunView, prices: Mapping[str, float]) -> float | None:
    if view.label in prices:
        return prices[view.label]
    return prices.get("reference" if view.is_baseline else "provider")


def cost_section(views: Sequence[RunView], prices: Mapping[str, float]) -> list[str]:
    priced = [(v, p) for v in views if (p := price_for(v, prices)) is not None]
    if not prices:
        return []
    lines = ["### Cost per audio-hour", ""]
    if not priced:
        labels = ", ".join(sorted(prices))
        return [*lines, f"No run matches the GPU prices given ({cell(labels)}).", ""]
    lines += [
        "Price per GPU-hour over the audio seconds made per second: what one hour of generated "
        "audio costs at that run's throughput.",
        "",
    ]
    rows = [_row(view, price) for view, price in priced]
    header = ["Run", "Validity", "GPU $/h", "Audio s/s", "p50 ms", "p95 ms", "$ per audio-hour"]
    lines += table(header, rows, "llrrrrr")
    lines += ["", *_sustained(priced), ""]
    return lines


def _row(view: RunView, price: float) -> list[str]:
    summary = view.run.summary
    latency = summary.latency
    return [
        cell(view.label),
        "✅ valid" if view.run.validity.valid else "❌ **INVALID**",
        fmt(price, 2),
        fmt(summary.audio_s_per_s, 2),
        fmt(latency.p50 if latency else None, 0),
        fmt(latency.p95 if latency else None, 0),
        _dollars(cost_per_audio_hour(price, summary.audio_s_per_s)),
    ]


def _sustained(priced: Sequence[tuple[RunView, float]]) -> list[str]:
    lines = []
    for baseline in (False, True):
        series = [(v, p) for v, p in priced if v.is_baseline == baseline and v.run.validity.valid]
        if not series:
            continue
        view, price = max(series, key=lambda pair: pair[0].run.summary.audio_s_per_s)
        summary = view.run.summary
        latency = summary.latency
        who = "The reference" if baseline else "The provider"
        lines.append(
            f"- {who} at its sustainable throughput ({fmt(summary.audio_s_per_s, 2)} audio s/s, "
            f"{cell(view.label)}, p95 {fmt(latency.p95 if latency else None, 0)} ms): "
            f"**{_dollars(cost_per_audio_hour(price, summary.audio_s_per_s))} per audio-hour** "
            f"at ${price:.2f}/h."
        )
    return lines or ["No valid run: no sustainable throughput to price."]


def _dollars(value: float) -> str:
    if value == float("inf"):
        return "∞ (no audio)"
    return f"${value:,.4f}" if value < 0.01 else f"${value:,.2f}"
