"""Keys never reach a report; hosts are replaced on request, the same host by the same name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.__main__ import main
from reports.redact import REDACTED, Redactor
from tests.reports.conftest import Render, fixture_paths
from tests.reports.make_fixtures import CLIENT_HOST, PLANTED_KEY, PROVIDER_HOST


def output_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_planted_key_is_in_the_fixtures_where_keys_leak() -> None:
    """Guard for the tests below: the key really is planted in every risky place."""
    record = json.loads((fixture_paths(("conformance-provider.json",))[0]).read_text())
    run = json.loads((fixture_paths(("run-provider-2.json",))[0]).read_text())
    assert PLANTED_KEY in record["provenance"]["provider_url"]  # URL userinfo
    assert record["provenance"]["options"]["api_key"] == PLANTED_KEY  # an options member
    curls = [c["curl"] for c in record["cases"] if c.get("curl")]
    assert any(f"X-API-Key: {PLANTED_KEY}" in c for c in curls)  # a curl header
    assert any(PLANTED_KEY in (c.get("reason") or "") for c in record["cases"])  # free text
    assert PLANTED_KEY in run["provenance"]["command"]  # an argv
    assert run["config"]["api_key"] == PLANTED_KEY  # a config member


@pytest.mark.parametrize("redact_hosts", [False, True])
def test_the_planted_key_never_reaches_any_output_file(render: Render, redact_hosts: bool) -> None:
    rendered, _ = render(redact_hosts=redact_hosts)
    files = output_bytes(rendered.markdown.parent)
    assert "report.md" in files
    for name, data in files.items():
        assert PLANTED_KEY.encode() not in data, f"the key leaked into {name}"
        assert b"sk-PLANTED" not in data, f"part of the key leaked into {name}"


def test_a_key_known_only_from_the_environment_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "env-only-secret-31337"
    document = json.loads(fixture_paths(("conformance-reference.json",))[0].read_text())
    document["cases"][0]["reason"] = f"the server logged {secret} in passing"
    source = tmp_path / "conformance.json"
    source.write_text(json.dumps(document))
    monkeypatch.setenv("TTS_API_KEY", secret)
    assert main(["render", str(source), "--out", str(tmp_path / "out")]) == 0
    assert secret not in (tmp_path / "out" / "report.md").read_text()


def test_a_key_given_with_secret_is_redacted(tmp_path: Path) -> None:
    source = fixture_paths(("conformance-reference.json",))[0]
    assert main(["render", str(source), "--out", str(tmp_path), "--secret", "espeak"]) == 0
    text = (tmp_path / "report.md").read_text()
    assert "espeak" not in text
    assert f"{REDACTED}-ng 1.52" in text


def test_hosts_are_replaced_consistently_across_documents(render: Render) -> None:
    rendered, inputs = render(redact_hosts=True)
    text = rendered.markdown.read_text(encoding="utf-8")
    assert PROVIDER_HOST not in text
    assert CLIENT_HOST not in text
    assert "gpu-box" not in text
    record_url = inputs.conformance[0].document.provenance.provider_url
    run_target = inputs.runs[0].document.provenance.target
    assert record_url == f"http://{REDACTED}@host-1:8000"
    assert run_target == "http://host-1:8000"
    env_host = inputs.environments[0].document.hostname
    assert env_host == "host-1"
    clients = {r.document.provenance.client.hostname for r in inputs.runs}
    assert clients == {"host-2"}
    assert "127.0.0.1" in text, "loopback names no machine and stays"


def test_without_the_flag_hosts_stay(render: Render) -> None:
    rendered, _ = render()
    assert PROVIDER_HOST in rendered.markdown.read_text(encoding="utf-8")


def test_redacting_hosts_keeps_the_same_machine_finding(render: Render) -> None:
    plain, _ = render(out=None)
    plain_text = plain.markdown.read_text(encoding="utf-8")
    redacted, _ = render(out=plain.markdown.parent.parent / "redacted", redact_hosts=True)
    redacted_text = redacted.markdown.read_text(encoding="utf-8")
    finding = "❌ **Same machine**: the servers ran on different machines"
    assert finding in plain_text
    assert finding in redacted_text
    assert "✅ **Same session**" in redacted_text


def test_redactor_units() -> None:
    redactor = Redactor(redact_hosts=True)
    tree = {
        "url": "https://user:pa55word-xyz@api.example.com/v1?api_key=abc123def456&x=1",
        "headers": "Authorization: Bearer tok-9876543210",
        "argv": ["prog", "--openai-api-key", "sk-argv-0001"],
        "provider_api_key": "sk-field-0002",
        "note": "reached 10.0.0.7 and [2001:db8::5] via api.example.com; "
        "instance api.example.com-77",
        "hostname": "tower",
        "served": "tower-1234",
        "prose": "the tower of the server",
    }
    redactor.learn(tree)
    out = redactor.scrub(tree)
    flat = json.dumps(out)
    for secret in (
        "pa55word-xyz",
        "abc123def456",
        "tok-9876543210",
        "sk-argv-0001",
        "sk-field-0002",
        "10.0.0.7",
        "2001:db8::5",
        "api.example.com",
    ):
        assert secret not in flat, secret
    assert out["url"] == f"https://{REDACTED}@host-1/v1?api_key={REDACTED}&x=1"
    assert out["argv"] == ["prog", "--openai-api-key", REDACTED]
    assert out["hostname"] == "host-2"
    assert out["served"] == "host-2-1234"
    assert out["prose"] == "the tower of the server", "a plain word is not redacted in prose"
    assert "ip-1" in out["note"]
    assert "ip-2" in out["note"]
    assert "host-1-77" in out["note"]


def test_prose_that_only_looks_like_a_header_is_kept() -> None:
    redactor = Redactor()
    text = "a missing or wrong Authorization: Bearer key, or Authorization: Bearer <key>"
    assert redactor.text(text) == text
    assert redactor.text("X-API-Key: s3cr3t-value") == f"X-API-Key: {REDACTED}"
