"""The streaming metrics on hand-made arrivals (no servers, no clocks)."""

from __future__ import annotations

import pytest

from benchmarks.streaming import StreamRecord, playback_underruns, summarize_streams


def test_frames_that_arrive_ahead_of_playback_never_stall() -> None:
    # 1 s frames at 10 Hz arriving every 0.5 s: the player is always ahead.
    assert playback_underruns([0.0, 0.5, 1.0, 1.5], [10] * 4, 10).count == 0


def test_a_late_frame_stalls_the_player_until_it_arrives() -> None:
    # Frame 2 is due at 2.0 s but arrives at 2.75 s; frame 3 is then due at 3.75 s.
    found = playback_underruns([0.0, 0.5, 2.75, 3.5], [10] * 4, 10)
    assert found.count == 1
    assert found.stall_s == pytest.approx(0.75)


def test_stalls_add_up() -> None:
    found = playback_underruns([0.0, 1.5, 3.0], [10, 10, 10], 10)
    assert found.count == 2
    assert found.stall_s == pytest.approx(1.0)


def test_the_summary_takes_ttfp_from_the_intended_send_time() -> None:
    late_client = StreamRecord(intended_at=10.0, sent_at=10.2, sample_rate=10)
    late_client.arrivals = [10.5, 10.6]
    late_client.samples = [10, 10]
    late_client.ended_at = 10.7
    broken = StreamRecord(intended_at=11.0, sent_at=11.0, error="ReadError: reset")
    summary = summarize_streams([late_client, broken], wall_s=2.0)
    assert summary.ok == 1
    assert summary.errors == {"ReadError": 1}
    assert summary.ttfp_ms is not None
    assert summary.ttfp_ms["p50"] == pytest.approx(500.0)
    assert summary.underruns == 0
    assert summary.audio_s_per_s == pytest.approx(1.0)
    assert summary.rtf is not None
    assert summary.rtf["p50"] == pytest.approx(0.35)
