"""measurements/qwen_batching.py runs end to end on the tiny checkpoint and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.qwen.helpers import require_qwen_tts

pytestmark = pytest.mark.qwen


@pytest.mark.slow
def test_batching_benchmark_runs_on_the_tiny_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_qwen_tts()
    from measurements import qwen_batching

    output = tmp_path / "bench.json"
    argv = ["--checkpoint", "tiny", "--device", "cpu", "--batch-sizes", "2,1", "--repeats", "1"]

    assert qwen_batching.main([*argv, "--warmup", "0", "--json", str(output)]) == 0

    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["conditions"]["device"] == "cpu"
    assert document["conditions"]["model"] == "tiny (random weights)"
    assert [row["batch_size"] for row in document["results"]] == [1, 2]
    for row in document["results"]:
        assert row["latency_s_median"] > 0
        assert row["requests_per_s"] > 0
        assert row["audio_s_per_s"] > 0
        assert row["peak_gpu_memory_mib"] is None
    printed = capsys.readouterr().out
    assert "requests/s" in printed
    assert "speed-up" in printed


def test_batch_sizes_must_be_positive() -> None:
    require_qwen_tts()
    from measurements import qwen_batching

    with pytest.raises(SystemExit):
        qwen_batching.main(["--checkpoint", "tiny", "--batch-sizes", "0,2"])
