"""curl commands: built from the request's bytes, shell-quoted, credentials redacted, and (when
curl is installed) proven to send the same request again."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import LoopbackServer, Received, settings
from voicebox_api import (
    WRONG_API_KEY,
    CurlCommand,
    Exchange,
    ProviderClient,
    ProviderError,
    curl_command,
)


def argv(command: CurlCommand) -> list[str]:
    """The command's arguments, as a POSIX shell would split them."""
    lines = [line for line in command.text.splitlines() if not line.startswith("#")]
    return shlex.split("\n".join(lines).replace("\\\n", " "))


def option_values(args: list[str], option: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == option]


def test_json_body_is_inlined_with_shell_quoting() -> None:
    body = {"text": 'It\'s a "test" — $HOME `ls` \\n', "voice_prompt": {"a": [1]}, "seed": 3}
    request = httpx.Request("POST", "http://h:8000/p/v1/generate", json=body)
    args = argv(curl_command(request))
    assert args[:3] == ["curl", "-i", "http://h:8000/p/v1/generate"]
    assert "-X" not in args  # curl infers POST from the body
    assert option_values(args, "-H") == ["Content-Type: application/json"]
    (data,) = option_values(args, "--data-raw")
    assert data.encode() == request.content
    assert json.loads(data) == body


def test_get_has_no_method_flag_and_other_methods_do() -> None:
    assert argv(curl_command(httpx.Request("GET", "http://h/health"))) == [
        "curl",
        "-i",
        "http://h/health",
    ]
    assert argv(curl_command(httpx.Request("DELETE", "http://h/x")))[2:4] == ["-X", "DELETE"]
    assert argv(curl_command(httpx.Request("POST", "http://h/x")))[2:4] == ["-X", "POST"]
    put = argv(curl_command(httpx.Request("PUT", "http://h/x", content=b"a")))
    assert put[2:4] == ["-X", "PUT"]


def test_credentials_are_redacted_and_the_wrong_key_is_not() -> None:
    request = httpx.Request(
        "GET",
        "http://h/v1/x",
        headers={"X-API-Key": "s3cret", "Authorization": "Bearer s3cret", "X-Trace": "t1"},
    )
    command = curl_command(request)
    assert "s3cret" not in command.text
    assert option_values(argv(command), "-H") == [
        "X-API-Key: ***",
        "Authorization: Bearer ***",
        "X-Trace: t1",
    ]
    wrong = httpx.Request("GET", "http://h/v1/x", headers={"X-API-Key": WRONG_API_KEY})
    shown = curl_command(wrong, public_values=(WRONG_API_KEY,))
    assert option_values(argv(shown), "-H") == [f"X-API-Key: {WRONG_API_KEY}"]


def test_secrets_are_redacted_anywhere() -> None:
    request = httpx.Request("POST", "http://h/x?k=s3cret", json={"echo": "s3cret"})
    assert "s3cret" not in curl_command(request, secrets=["s3cret"]).text


def test_multipart_becomes_form_options_with_attachments() -> None:
    audio = b"RIFF\x00\x01\r\n--binary"
    request = httpx.Request(
        "POST",
        "http://h/v1/create_voice_prompt",
        files={"audio": ("reference.wav", audio, "audio/wav")},
        data={"reference_text": "@not-a-file <neither; type=x"},
    )
    command = curl_command(request)
    args = argv(command)
    assert option_values(args, "-F") == ["audio=@reference.wav;type=audio/wav"]
    assert option_values(args, "--form-string") == ["reference_text=@not-a-file <neither; type=x"]
    assert "-H" not in args  # curl writes its own multipart Content-Type and boundary
    assert command.attachments == {"reference.wav": audio}
    assert command.text.startswith("# Run this in a directory that holds these files")
    assert "#   reference.wav  (16 bytes)" in command.text


def test_a_path_like_filename_is_sent_as_is_but_saved_under_a_safe_name() -> None:
    request = httpx.Request(
        "POST", "http://h/v1/create_voice_prompt", files={"audio": ("../../d/x y.wav", b"1")}
    )
    command = curl_command(request)
    (form,) = option_values(argv(command), "-F")
    assert form == 'audio=@x_y.wav;filename="../../d/x y.wav";type=audio/x-wav'
    assert list(command.attachments) == ["x_y.wav"]


def test_duplicate_file_names_get_distinct_attachments() -> None:
    request = httpx.Request(
        "POST", "http://h/x", files=[("a", ("f.wav", b"1")), ("b", ("f.wav", b"2"))]
    )
    command = curl_command(request)
    assert command.attachments == {"f.wav": b"1", "f-2.wav": b"2"}


def test_long_and_binary_bodies_become_attachments() -> None:
    long_json = httpx.Request("POST", "http://h/v1/generate", json={"voice_prompt": "A" * 9000})
    command = curl_command(long_json)
    assert option_values(argv(command), "--data-binary") == ["@body.json"]
    assert command.attachments["body.json"] == long_json.content
    raw = httpx.Request("POST", "http://h/v1/generate", content=b"\x00\xff{")
    command = curl_command(raw)
    args = argv(command)
    assert option_values(args, "--data-binary") == ["@body.bin"]
    assert option_values(args, "-H") == ["Content-Type:"]  # no content type was sent
    assert command.attachments == {"body.bin": b"\x00\xff{"}


def test_a_malformed_multipart_body_is_sent_byte_for_byte() -> None:
    content_type = "multipart/form-data; boundary=XYZ"
    body = b"--XYZ\r\nnot a part"
    request = httpx.Request(
        "POST", "http://h/x", content=body, headers={"Content-Type": content_type}
    )
    command = curl_command(request)
    args = argv(command)
    assert option_values(args, "--data-binary") == ["@body.bin"]  # CR cannot be pasted reliably
    assert option_values(args, "-H") == [f"Content-Type: {content_type}"]
    assert command.attachments == {"body.bin": body}


def test_repr_lists_attachments_without_their_bytes() -> None:
    request = httpx.Request("POST", "http://h/x", files={"audio": ("a.wav", b"\x01" * 10_000)})
    text = repr(curl_command(request))
    assert "['a.wav']" in text
    assert "\\x01" not in text


def test_save_attachments(tmp_path: Path) -> None:
    request = httpx.Request("POST", "http://h/x", files={"audio": ("a.wav", b"123")})
    paths = curl_command(request).save_attachments(tmp_path / "sub")
    assert paths == [tmp_path / "sub" / "a.wav"]
    assert paths[0].read_bytes() == b"123"


# --- Running curl for real ---------------------------------------------------------------------

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def _replay(
    loopback: LoopbackServer, tmp_path: Path, send: str, *args: object, **kwargs: object
) -> tuple[Received, Received, httpx.Request]:
    """Send a request with the client, then run its curl command; return both as received."""
    exchanges: list[Exchange] = []
    s = settings(tts_remote_url=loopback.url + "/prefix", tts_api_key="k-live")
    with ProviderClient(settings=s, on_exchange=exchanges.append) as client:
        with contextlib.suppress(ProviderError):  # the answer does not matter here
            getattr(client, send)(*args, **kwargs)
        command = client.curl(exchanges[0].request)
    command.save_attachments(tmp_path)
    subprocess.run(
        ["bash", "-c", command.text], cwd=tmp_path, check=True, capture_output=True, timeout=20
    )
    original, replayed = loopback.received
    return original, replayed, exchanges[0].request


def _form(received: Received) -> list[tuple[str | None, str | None, str | None, bytes]]:
    head = f"Content-Type: {received.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + received.body)
    return [
        (
            part.get_param("name", header="content-disposition"),  # type: ignore[misc]
            part.get_filename(),
            part.get("content-type"),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


def _assert_same_request(original: Received, replayed: Received) -> None:
    assert (replayed.method, replayed.path) == (original.method, original.path)
    assert replayed.headers["x-api-key"] == "***"  # the key itself is never printed
    assert original.headers["x-api-key"] == "k-live"
    assert replayed.headers.get("content-type") == original.headers.get("content-type") or (
        original.headers["content-type"].startswith("multipart/form-data")
    )


@needs_curl
def test_curl_reproduces_a_json_request(loopback: LoopbackServer, tmp_path: Path) -> None:
    text = 'It\'s "quoted", $HOME and `backticks` — ünïcode ✓'
    original, replayed, _ = _replay(
        loopback, tmp_path, "generate", text, {"k": [1, 2]}, language="en", seed=42
    )
    _assert_same_request(original, replayed)
    assert original.path == "/prefix/v1/generate"
    assert replayed.body == original.body


@needs_curl
def test_curl_reproduces_a_multipart_request(loopback: LoopbackServer, tmp_path: Path) -> None:
    audio = bytes(range(256)) * 40 + b"\r\n--boundary-like\r\n"
    original, replayed, _ = _replay(
        loopback,
        tmp_path,
        "create_voice_prompt",
        audio,
        "@looks-like-a-file; type=x <and this",
        filename="../../missing-dir/x.wav",
    )
    _assert_same_request(original, replayed)
    assert _form(replayed) == _form(original)
    assert _form(original) == [
        ("reference_text", None, None, b"@looks-like-a-file; type=x <and this"),
        ("audio", "../../missing-dir/x.wav", "application/octet-stream", audio),
    ]


@needs_curl
def test_curl_reproduces_a_malformed_raw_request(loopback: LoopbackServer, tmp_path: Path) -> None:
    body = b'{"text": "unterminated\x00\xff'
    original, replayed, request = _replay(
        loopback, tmp_path, "request", "POST", "v1/generate", content=body
    )
    assert "content-type" not in request.headers
    assert replayed.body == original.body == body
    assert "content-type" not in replayed.headers
    assert (replayed.method, replayed.path) == (original.method, original.path)


@needs_curl
def test_curl_reproduces_a_long_body_through_an_attachment(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    prompt = {"codes": "QUJD" * 5000}
    original, replayed, _ = _replay(loopback, tmp_path, "generate", "Hi.", prompt)
    assert (tmp_path / "body.json").exists()
    _assert_same_request(original, replayed)
    assert replayed.body == original.body
