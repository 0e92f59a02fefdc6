"""One mutant per SPEC.md clause: the reference server with exactly one defect.

Each mutant must make its own clause FAIL (MUST) or NON-STRICT (SHOULD), or change its INFO
(MAY), while no other clause FAILs. The defects are realistic: most are bugs seen in the seed's
own example server or in hand-written providers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from tests.conformance.binary_answers import edit_binary_samples, wants_binary
from tests.conformance.provider import API_KEY
from tests.conformance.rewrite import Exchange, Rewrite
from voicebox_api import GenerateRequest

Hook = Callable[[Exchange], Awaitable[None]]
INTERNAL_ERROR = {"detail": "Internal Server Error"}


@dataclass(frozen=True)
class Mutant:
    clause: str
    defect: str
    rewrite: Callable[[], Rewrite]
    config: dict[str, Any] = field(default_factory=dict)


# --- Small matchers and editors ---------------------------------------------------------------


def is_generate(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/generate"


def is_create(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/create_voice_prompt"


def is_transcribe(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/transcribe"


def is_openai(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path == "/v1/audio/transcriptions"


def is_health(ex: Exchange) -> bool:
    return ex.path == "/health"


def json_body(ex: Exchange) -> Any:
    """The request body as JSON, or None when it does not parse (see ``malformed``)."""
    try:
        return ex.json()
    except ValueError:
        return None


def malformed(ex: Exchange) -> bool:
    try:
        ex.json()
    except ValueError:
        return True
    return False


def form_fields(ex: Exchange) -> dict[str, bytes]:
    """The parts of a multipart request body by name."""
    head = f"Content-Type: {ex.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + ex.body)
    if not message.is_multipart():
        return {}
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = part.get_payload(decode=True) or b""
    return parts


def filename_of(ex: Exchange) -> str:
    head = f"Content-Type: {ex.headers.get('content-type', '')}\r\n\r\n".encode()
    for part in BytesParser(policy=HTTP).parsebytes(head + ex.body).iter_parts():
        if part.get_filename():
            return str(part.get_filename())
    return ""


def authenticated(ex: Exchange) -> bool:
    return API_KEY in (ex.headers.get("x-api-key"), ex.headers.get("authorization", "")[7:])


def on_request(
    match: Callable[[Exchange], bool],
    edit: Callable[[Exchange], Any],
    *,
    before_auth: bool = False,
) -> Rewrite:
    """Edit matching requests; like a handler, only once the key is checked unless
    ``before_auth`` (for defects of the authentication itself)."""

    async def hook(ex: Exchange) -> None:
        if (before_auth or authenticated(ex)) and match(ex):
            result = edit(ex)
            if asyncio.iscoroutine(result):
                await result

    return Rewrite(on_request=hook)


def on_response(match: Callable[[Exchange], bool], edit: Callable[[Exchange], Any]) -> Rewrite:
    async def hook(ex: Exchange) -> None:
        if match(ex):
            edit(ex)

    return Rewrite(on_response=hook)


def ok(match: Callable[[Exchange], bool]) -> Callable[[Exchange], bool]:
    return lambda ex: match(ex) and ex.status == 200


def edit_generate_json(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    """Change a /v1/generate request body that is a JSON object."""

    def edit(ex: Exchange) -> None:
        body = json_body(ex)
        if isinstance(body, dict):
            change(body)
            ex.set_json(body)

    return on_request(is_generate, edit)


def edit_generate_answer(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def edit(ex: Exchange) -> None:
        if wants_binary(ex):  # a defect of the JSON form: streams and WAV files have no members
            return
        body = ex.response_json()
        change(body)
        ex.set_response_json(body)

    return on_response(ok(is_generate), edit)


def edit_samples(change: Callable[[np.ndarray, int], tuple[np.ndarray, int]]) -> Rewrite:
    """Change the float32 samples (and rate) of every generated clip."""

    def apply(body: dict[str, Any]) -> None:
        samples = np.frombuffer(base64.b64decode(body["audio"]), "<f4").astype(np.float32)
        changed, rate = change(samples, body["sample_rate"])
        body["audio"] = base64.b64encode(changed.astype("<f4").tobytes()).decode()
        body["sample_rate"] = rate

    json_answers = edit_generate_answer(apply)

    async def edit(ex: Exchange) -> None:
        if ok(is_generate)(ex) and wants_binary(ex):
            edit_binary_samples(ex, change)  # the same defect in every form of the answer
        else:
            await json_answers.on_response(ex)

    return Rewrite(on_response=edit)


def edit_health(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def edit(ex: Exchange) -> None:
        body = ex.response_json()
        change(body)
        ex.set_response_json(body)

    return on_response(is_health, edit)


def edit_capabilities(**values: Any) -> Rewrite:
    """Declare ``values``; a /health that declares nothing yet (still loading) is left as is."""
    return edit_health(
        lambda body: body.get("capabilities") and body["capabilities"].update(values)
    )


def respond(status: int, body: Any, **headers: str) -> Callable[[Exchange], None]:
    return lambda ex: ex.respond(status, body, {"content-type": "application/json", **headers})


def replace_response(status: int, body: Any) -> Callable[[Exchange], None]:
    def edit(ex: Exchange) -> None:
        ex.status = status
        ex.response_headers["content-type"] = "application/json"
        ex.set_response_json(body)

    return edit


def set_content_type(value: str) -> Callable[[Exchange], None]:
    def edit(ex: Exchange) -> None:
        ex.response_headers["content-type"] = value

    return edit


def every_other_word(text: str) -> str:
    return " ".join(text.split()[::2])


def chain(*rewrites: Rewrite) -> Rewrite:
    async def requests(ex: Exchange) -> None:
        for rewrite in rewrites:
            await rewrite.on_request(ex)

    async def responses(ex: Exchange) -> None:
        for rewrite in rewrites:
            await rewrite.on_response(ex)

    return Rewrite(requests, responses)


# --- Stateful defects -------------------------------------------------------------------------


def schema_violations_answer_200() -> Rewrite:
    """A provider that reports invalid bodies in a 200 instead of a 4xx."""
    type_errors = ("missing", "_type")

    def edit(ex: Exchange) -> None:
        body = json_body(ex)
        if body is None:
            return
        try:
            GenerateRequest.model_validate(body)
        except ValidationError as exc:
            if any(e["type"] == "missing" or e["type"].endswith(type_errors) for e in exc.errors()):
                ex.respond(200, {"error": "invalid request"})

    return on_request(is_generate, edit)


def _canonical(prompt: Any) -> str:
    return json.dumps(prompt, sort_keys=True)


def _swap_prompts(choose: Callable[[Any, dict[str, Any]], Any]) -> Rewrite:
    """Replace generate's voice prompt by ``choose(prompt, made)``, where ``made`` holds every
    prompt the provider created (by canonical JSON) and the first under "first"."""
    made: dict[str, Any] = {}

    async def remember(ex: Exchange) -> None:
        if ok(is_create)(ex):
            prompt = ex.response_json()["voice_prompt"]
            made.setdefault("first", prompt)
            made[_canonical(prompt)] = prompt

    def swap(body: dict[str, Any]) -> None:
        if isinstance(body.get("text"), str) and isinstance(body.get("voice_prompt"), dict):
            body["voice_prompt"] = choose(body["voice_prompt"], made)

    return chain(edit_generate_json(swap), Rewrite(on_response=remember))


def falls_back_to_a_default_voice() -> Rewrite:
    """Voice prompts it never made are replaced by the first prompt it made, not refused."""
    return _swap_prompts(
        lambda prompt, made: prompt if _canonical(prompt) in made else made.get("first", prompt)
    )


def unhealthy_after_malformed_json() -> Rewrite:
    state = {"malformed": 0}

    async def count(ex: Exchange) -> None:
        if is_generate(ex) and malformed(ex):
            state["malformed"] += 1

    async def report(ex: Exchange) -> None:
        if is_health(ex) and state["malformed"] >= 2:
            body = ex.response_json() | {"status": "unhealthy"}
            ex.status = 503
            ex.response_headers["retry-after"] = "5"
            ex.set_response_json(body)

    return Rewrite(count, report)


def first_prompt_for_everyone() -> Rewrite:
    """Ignores the voice prompt: every generation with a prompt it made uses the first one."""
    return _swap_prompts(
        lambda prompt, made: made["first"] if _canonical(prompt) in made else prompt
    )


def shared_prompt_slot() -> Rewrite:
    """Cross-talk: the request's prompt goes through one global slot while the model "loads"."""
    slot: dict[str, Any] = {}

    async def edit(ex: Exchange) -> None:
        body = json_body(ex)
        if not isinstance(body, dict) or "voice_prompt" not in body:
            return
        slot["prompt"] = body["voice_prompt"]
        await asyncio.sleep(0.05)
        body["voice_prompt"] = slot["prompt"]
        ex.set_json(body)

    return on_request(is_generate, edit)


def uploads_saved_under_their_filename(directory: Path, *, traverse: bool) -> Rewrite:
    """The seed's bug: the upload goes to a path built from the client's filename.

    With ``traverse`` the filename is used as given (path traversal); otherwise only its base
    name, which still lets two uploads with the same name overwrite each other.
    """

    async def edit(ex: Exchange) -> None:
        name = filename_of(ex)
        if traverse:  # a directory per upload, so only the traversal is wrong
            path = directory / uuid.uuid4().hex / name
            (directory / path.relative_to(directory).parts[0]).mkdir()
        else:
            path = directory / (os.path.basename(name) or "upload")
        original = form_fields(ex).get("audio", b"")
        try:
            path.write_bytes(original)
            await asyncio.sleep(0.15)
            stored = path.read_bytes()
        except OSError:
            ex.respond(500, INTERNAL_ERROR)
            return
        if stored != original and original:
            ex.body = ex.body.replace(original, stored)

    return on_request(is_create, edit)


def blocks_the_loop() -> Rewrite:
    """Inference on the event loop: each generation stalls the whole server for 0.4 s."""

    async def stall(ex: Exchange) -> None:
        if is_generate(ex):
            time.sleep(0.4)  # deliberately blocking

    return Rewrite(on_request=stall)


# --- The catalogue ----------------------------------------------------------------------------

HEARD_INSTEAD = "Thank you for watching."
SPEAK_INSTEAD = "I am a speech synthesizer and I say this sentence whatever you ask."
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/provider/app.py", line 88, in generate\n'
    "    audio = model.generate(text)\n"
)


def mutant(clause: str, defect: str, rewrite: Callable[[], Rewrite], **config: Any) -> Mutant:
    return Mutant(clause, defect, rewrite, config)


def auth_mutants() -> list[Mutant]:
    """§2 Authentication."""
    return [
        mutant(
            "AUTH-1",
            "a missing key is let through",
            lambda: on_request(
                lambda ex: (
                    ex.path.startswith("/v1/")
                    and "x-api-key" not in ex.headers
                    and "authorization" not in ex.headers
                ),
                lambda ex: ex.headers.update({"x-api-key": API_KEY}),
                before_auth=True,
            ),
        ),
        mutant(
            "AUTH-2",
            "a wrong key is let through",
            lambda: on_request(
                lambda ex: ex.path.startswith("/v1/") and "x-api-key" in ex.headers,
                lambda ex: ex.headers.update({"x-api-key": API_KEY}),
                before_auth=True,
            ),
        ),
        mutant(
            "AUTH-3",
            "an empty body with the right key is answered 401",
            lambda: on_request(
                lambda ex: is_generate(ex) and ex.body.strip() == b"{}",
                respond(401, {"detail": "Unauthorized"}),
            ),
        ),
        mutant(
            "AUTH-4",
            "/health requires the key",
            lambda: on_request(
                lambda ex: is_health(ex) and "x-api-key" not in ex.headers,
                respond(401, {"detail": "missing API key"}),
                before_auth=True,
            ),
        ),
        mutant(
            "AUTH-5",
            "Bearer keys are refused on the Voicebox endpoints",
            lambda: on_request(
                lambda ex: (
                    ex.path.startswith("/v1/")
                    and not ex.path.startswith("/v1/audio/")  # OpenAI's endpoints take Bearer
                    and "authorization" in ex.headers
                    and "x-api-key" not in ex.headers
                ),
                respond(401, {"detail": "use X-API-Key"}),
                before_auth=True,
            ),
        ),
    ]


def errors_mutants() -> list[Mutant]:
    """§3 Errors."""
    return [
        mutant(
            "ERR-1",
            "error bodies are plain text",
            lambda: on_response(
                lambda ex: (
                    ex.path.startswith("/v1/")
                    and not ex.path.startswith("/v1/audio/")  # OpenAI's envelope is OAI-6's
                    and ex.status >= 400
                ),
                lambda ex: (
                    set_content_type("text/plain")(ex),
                    setattr(ex, "response_body", b"Bad request"),
                ),
            ),
        ),
        mutant(
            "ERR-2",
            "malformed JSON crashes the handler",
            lambda: on_request(
                lambda ex: is_generate(ex) and malformed(ex), respond(500, INTERNAL_ERROR)
            ),
        ),
        mutant(
            "ERR-3",
            "schema violations are answered 200 with an error member",
            schema_violations_answer_200,
        ),
        mutant(
            "ERR-4",
            "unknown voice prompts fall back to a default voice",
            falls_back_to_a_default_voice,
        ),
        mutant(
            "ERR-5",
            "a text that is an array or object crashes the handler",
            lambda: on_request(
                lambda ex: (
                    is_generate(ex)
                    and isinstance(json_body(ex), dict)
                    and isinstance(json_body(ex).get("text"), list | dict)
                ),
                respond(500, INTERNAL_ERROR),
            ),
        ),
        mutant(
            "ERR-6",
            "422 bodies carry the traceback",
            lambda: on_response(
                lambda ex: is_generate(ex) and ex.status == 422,
                lambda ex: ex.set_response_json({"detail": f"invalid request\n{TRACEBACK}"}),
            ),
        ),
        mutant(
            "ERR-7",
            "the provider turns unhealthy after malformed JSON",
            unhealthy_after_malformed_json,
        ),
        mutant(
            "ERR-8",
            "overload answers lack Retry-After",
            lambda: on_response(
                lambda ex: ex.status in (429, 503),
                lambda ex: ex.response_headers.pop("retry-after"),
            ),
        ),
    ]


def health_mutants() -> list[Mutant]:
    """§4 GET /health."""
    return [
        mutant("HLT-1", "/health has no device", lambda: edit_health(lambda b: b.pop("device"))),
        mutant(
            "HLT-2",
            "status loading answered 200",
            lambda: edit_health(lambda b: b.update(status="loading")),
        ),
        mutant(
            "HLT-3", "capabilities.languages is a string", lambda: edit_capabilities(languages="en")
        ),
    ]


def versioning_mutants() -> list[Mutant]:
    """§13 Versioning."""
    return [
        mutant(
            "VER-1",
            "/health names no api_version",
            lambda: edit_health(lambda b: b.pop("api_version")),
        ),
    ]


def voice_prompt_mutants(upload_dir: Path) -> list[Mutant]:
    """§5 POST /v1/create_voice_prompt."""
    return [
        mutant(
            "VP-1",
            "voice prompts are served as text/plain",
            lambda: on_response(ok(is_create), set_content_type("text/plain")),
        ),
        mutant(
            "VP-2",
            "the voice prompt is a JSON string",
            lambda: on_response(
                ok(is_create),
                lambda ex: ex.set_response_json(
                    {"voice_prompt": json.dumps(ex.response_json()["voice_prompt"])}
                ),
            ),
        ),
        mutant(
            "VP-3",
            "create adds a member that generate's strict parser refuses",
            lambda: on_response(
                ok(is_create),
                lambda ex: ex.set_response_json(
                    {
                        "voice_prompt": {
                            **ex.response_json()["voice_prompt"],
                            "created_by": "provider-1",
                        }
                    }
                ),
            ),
        ),
        mutant(
            "VP-4",
            "MP3 uploads are refused",
            lambda: on_request(
                lambda ex: is_create(ex) and filename_of(ex).endswith(".mp3"),
                respond(415, {"detail": "MP3 is not supported"}),
            ),
        ),
        mutant(
            "VP-5",
            "undecodable uploads crash the handler",
            lambda: on_response(
                lambda ex: is_create(ex) and ex.status in (400, 415, 422),
                replace_response(500, INTERNAL_ERROR),
            ),
        ),
        mutant(
            "VP-6",
            "uploads over 5 MiB are refused",
            lambda: on_request(
                lambda ex: is_create(ex) and len(ex.body) > 5 * 2**20,
                respond(413, {"detail": "upload too large"}),
            ),
        ),
        mutant(
            "VP-7",
            "the declared upload limit is not enforced",
            lambda: edit_capabilities(max_upload_bytes=12 * 2**20),
            max_upload_bytes=40 * 2**20,
        ),
        mutant(
            "VP-8",
            "uploads are saved under the client's filename",
            lambda: uploads_saved_under_their_filename(upload_dir / "traverse", traverse=True),
        ),
        mutant(
            "VP-9",
            "voice prompts carry 1 MiB of padding",
            lambda: chain(
                on_response(
                    ok(is_create),
                    lambda ex: ex.set_response_json(
                        {
                            "voice_prompt": {
                                **ex.response_json()["voice_prompt"],
                                "padding": "x" * (2**20 + 10),
                            }
                        }
                    ),
                ),
                edit_generate_json(
                    lambda b: (
                        b["voice_prompt"].pop("padding", None)
                        if isinstance(b.get("voice_prompt"), dict)
                        else None
                    )
                ),
            ),
        ),
    ]


def generate_mutants() -> list[Mutant]:
    """§6 POST /v1/generate."""
    return [
        mutant(
            "GEN-1",
            "audio is served as text/plain",
            lambda: on_response(
                ok(lambda ex: is_generate(ex) and not wants_binary(ex)),
                set_content_type("text/plain"),
            ),
        ),
        mutant(
            "GEN-2",
            "sample_rate is a string",
            lambda: edit_generate_answer(lambda b: b.update(sample_rate=str(b["sample_rate"]))),
        ),
        mutant(
            "GEN-3",
            "language and seed are required",
            lambda: on_request(
                lambda ex: (
                    is_generate(ex)
                    and isinstance(json_body(ex), dict)
                    and not {"language", "seed"} <= set(json_body(ex))
                ),
                respond(422, {"detail": "language and seed are required"}),
            ),
        ),
        mutant(
            "GEN-4",
            "blank text is spoken as a placeholder",
            lambda: edit_generate_json(
                lambda b: (
                    b.update(text="Silence.")
                    if isinstance(b.get("text"), str) and not b["text"].strip()
                    else None
                )
            ),
        ),
        mutant(
            "GEN-5",
            "texts over 200 characters are refused though 300 are declared",
            lambda: on_request(
                lambda ex: (
                    is_generate(ex)
                    and isinstance(json_body(ex), dict)
                    and len(str(json_body(ex).get("text", ""))) > 200
                ),
                respond(413, {"detail": "text too long"}),
            ),
        ),
        mutant(
            "GEN-6",
            "the declared text limit is not enforced",
            lambda: edit_capabilities(max_text_length=300),
            max_text_length=1000,
        ),
        mutant(
            "GEN-7",
            "the euro sign crashes the text normaliser",
            lambda: on_request(
                lambda ex: (
                    is_generate(ex)
                    and isinstance(json_body(ex), dict)
                    and "€" in str(json_body(ex).get("text", ""))
                ),
                respond(500, INTERNAL_ERROR),
            ),
        ),
        mutant(
            "GEN-8",
            "the seed is ignored",
            lambda: edit_generate_json(
                lambda b: (
                    b.update(seed=random.randrange(2**31)) if type(b.get("seed")) is int else None
                )
            ),
        ),
    ]


def audio_mutants() -> list[Mutant]:
    """§7 The audio payload."""
    return [
        mutant(
            "AUD-1",
            "base64 with MIME line breaks",
            lambda: edit_generate_answer(
                lambda b: b.update(audio=base64.encodebytes(base64.b64decode(b["audio"])).decode())
            ),
        ),
        mutant(
            "AUD-2",
            'dtype is "float"',
            lambda: edit_generate_answer(lambda b: b.update(dtype="float")),
        ),
        mutant(
            "AUD-3",
            "a stray byte after the samples",
            lambda: edit_generate_answer(
                lambda b: b.update(
                    audio=base64.b64encode(base64.b64decode(b["audio"]) + b"\0").decode()
                )
            ),
        ),
        mutant(
            "AUD-4",
            "float samples scaled past full scale",
            lambda: edit_samples(lambda x, r: (x * 1.5, r)),
        ),
        mutant("AUD-5", "sample_rate 4000", lambda: edit_samples(lambda x, r: (x, 4000))),
        mutant(
            "AUD-6",
            "declares 24000 Hz for its 22050 Hz audio (a moderate lie, ratio 1.088)",
            lambda: edit_samples(lambda x, r: (x, round(r * 24000 / 22050))),
        ),
        mutant("AUD-7", "silence", lambda: edit_samples(lambda x, r: (x * 0, r))),
        mutant(
            "AUD-8",
            "four times too loud, clipped",
            lambda: edit_samples(lambda x, r: (np.clip(x * 4, -1, 1), r)),
        ),
        mutant(
            "AUD-9", "a DC offset of 0.15", lambda: edit_samples(lambda x, r: (x * 0.5 + 0.15, r))
        ),
        mutant(
            "AUD-10",
            "40 s of trailing silence",
            lambda: edit_samples(
                lambda x, r: (np.concatenate([x, np.zeros(40 * r, np.float32)]), r)
            ),
        ),
        mutant(
            "AUD-11",
            "1.5 s of leading silence",
            lambda: edit_samples(
                lambda x, r: (np.concatenate([np.zeros(int(1.5 * r), np.float32), x]), r)
            ),
        ),
    ]


def language_mutants() -> list[Mutant]:
    """§8 Languages."""
    return [
        mutant(
            "LANG-1",
            "German is declared but refused",
            lambda: on_request(
                lambda ex: (
                    is_generate(ex)
                    and isinstance(json_body(ex), dict)
                    and json_body(ex).get("language") == "de"
                ),
                respond(422, {"detail": "unsupported language"}),
            ),
        ),
        mutant(
            "LANG-2",
            "unsupported languages are spoken as English",
            lambda: edit_generate_json(
                lambda b: b.update(language="en") if b.get("language") == "qq" else None
            ),
        ),
    ]


def judged_mutants() -> list[Mutant]:
    """§9 Speech, judged."""
    return [
        mutant(
            "INT-1",
            "speaks a fixed sentence instead of the text",
            lambda: edit_generate_json(
                lambda b: (
                    b.update(text=SPEAK_INSTEAD)
                    if isinstance(b.get("text"), str) and b["text"].strip()
                    else None
                )
            ),
        ),
        mutant(
            "INT-2",
            "drops every other word",
            lambda: edit_generate_json(
                lambda b: (
                    b.update(text=every_other_word(b["text"]))
                    if isinstance(b.get("text"), str) and len(b["text"].split()) > 1
                    else None
                )
            ),
        ),
        mutant("SPK-1", "ignores the voice prompt", first_prompt_for_everyone),
        mutant("SPK-2", "ignores the voice prompt", first_prompt_for_everyone),
    ]


def concurrency_mutants(upload_dir: Path) -> list[Mutant]:
    """§10 Concurrency and load."""
    return [
        mutant("CON-1", "concurrent requests share one prompt slot", shared_prompt_slot),
        mutant(
            "CON-2",
            "uploads with the same filename overwrite each other",
            lambda: uploads_saved_under_their_filename(upload_dir / "race", traverse=False),
        ),
        mutant("CON-3", "generation blocks the event loop", blocks_the_loop),
    ]


def transcribe_mutants() -> list[Mutant]:
    """§11 POST /v1/transcribe."""
    return [
        mutant(
            "TRN-6",
            "answers the same words whatever the audio",
            lambda: on_response(
                ok(is_transcribe), lambda ex: ex.set_response_json({"text": HEARD_INSTEAD})
            ),
        ),
        mutant(
            "TRN-1",
            "the transcript is under `transcript`",
            lambda: on_response(
                ok(is_transcribe),
                lambda ex: ex.set_response_json({"transcript": ex.response_json()["text"]}),
            ),
        ),
        mutant(
            "TRN-2",
            "every other word is lost",
            lambda: on_response(
                ok(is_transcribe),
                lambda ex: ex.set_response_json(
                    {"text": every_other_word(ex.response_json()["text"])}
                ),
            ),
        ),
        mutant(
            "TRN-3",
            "a language field is refused",
            lambda: on_request(
                lambda ex: is_transcribe(ex) and "language" in form_fields(ex),
                respond(422, {"detail": "unexpected field language"}),
            ),
        ),
        mutant(
            "TRN-4",
            "unsupported languages are transcribed anyway",
            lambda: on_response(
                lambda ex: is_transcribe(ex) and ex.status == 422 and "language" in form_fields(ex),
                replace_response(200, {"text": "transcribed anyway"}),
            ),
        ),
        mutant(
            "TRN-5",
            "undecodable uploads crash the handler",
            lambda: on_response(
                lambda ex: (
                    is_transcribe(ex)
                    and ex.status in (400, 415, 422)
                    and "language" not in form_fields(ex)
                ),
                replace_response(500, INTERNAL_ERROR),
            ),
        ),
    ]


def openai_mutants() -> list[Mutant]:
    """§12 POST /v1/audio/transcriptions."""
    return [
        mutant(
            "OAI-9",
            "json answers the same words whatever the audio",
            lambda: on_response(
                lambda ex: (
                    ok(is_openai)(ex) and form_fields(ex).get("response_format", b"json") == b"json"
                ),
                lambda ex: ex.set_response_json({"text": HEARD_INSTEAD}),
            ),
        ),
        mutant(
            "OAI-10",
            "files that are not audio are answered 415, as the Voicebox endpoints answer them",
            lambda: on_response(
                lambda ex: is_openai(ex) and ex.status == 400 and _undecodable(ex),
                lambda ex: setattr(ex, "status", 415),
            ),
        ),
        mutant(
            "OAI-1",
            "json puts the transcript under `transcript`",
            lambda: on_response(
                lambda ex: (
                    ok(is_openai)(ex) and form_fields(ex).get("response_format", b"json") == b"json"
                ),
                lambda ex: ex.set_response_json({"transcript": ex.response_json()["text"]}),
            ),
        ),
        mutant(
            "OAI-2",
            "text is served as JSON",
            lambda: on_response(
                lambda ex: ok(is_openai)(ex) and form_fields(ex).get("response_format") == b"text",
                set_content_type("application/json"),
            ),
        ),
        mutant(
            "OAI-3",
            "verbose_json segments run backwards",
            lambda: on_response(
                lambda ex: (
                    ok(is_openai)(ex) and form_fields(ex).get("response_format") == b"verbose_json"
                ),
                _reverse_segment_times,
            ),
        ),
        mutant(
            "OAI-4",
            "SRT timestamps use a full stop",
            lambda: on_response(
                lambda ex: ok(is_openai)(ex) and form_fields(ex).get("response_format") == b"srt",
                lambda ex: setattr(ex, "response_body", _srt_with_dots(ex.response_body)),
            ),
        ),
        mutant(
            "OAI-5",
            "WebVTT without its header",
            lambda: on_response(
                lambda ex: ok(is_openai)(ex) and form_fields(ex).get("response_format") == b"vtt",
                lambda ex: setattr(
                    ex, "response_body", ex.response_body.replace(b"WEBVTT", b"", 1)
                ),
            ),
        ),
        mutant(
            "OAI-6",
            "errors use FastAPI's detail instead of OpenAI's envelope",
            lambda: on_response(
                lambda ex: is_openai(ex) and 400 <= ex.status < 500,
                lambda ex: ex.set_response_json({"detail": "bad request"}),
            ),
        ),
        mutant(
            "OAI-7",
            "a prompt field is refused",
            lambda: on_request(
                lambda ex: is_openai(ex) and "prompt" in form_fields(ex),
                respond(
                    400,
                    {
                        "error": {
                            "message": "prompt is not supported",
                            "type": "invalid_request_error",
                            "param": "prompt",
                            "code": None,
                        }
                    },
                ),
            ),
        ),
        mutant(
            "OAI-8",
            "the OpenAI endpoint lets anyone in",
            lambda: on_request(
                is_openai,
                lambda ex: ex.headers.update({"authorization": f"Bearer {API_KEY}"}),
                before_auth=True,
            ),
        ),
    ]


def _undecodable(ex: Exchange) -> bool:
    return bool(ex.response_json().get("error", {}).get("code") == "unsupported_audio")


def _reverse_segment_times(ex: Exchange) -> None:
    body = ex.response_json()
    for segment in body["segments"]:
        segment["start"], segment["end"] = segment["end"] + 0.5, segment["start"]
    ex.set_response_json(body)


def _srt_with_dots(document: bytes) -> bytes:
    lines = document.decode().splitlines()
    return "\n".join(line.replace(",", ".") if "-->" in line else line for line in lines).encode()


def mutants(upload_dir: Path) -> dict[str, Mutant]:
    """Every mutant by clause; each area's table adds one line here."""
    from tests.conformance.mutants_robustness import robustness_mutants
    from tests.conformance.mutants_speech import speech_mutants
    from tests.conformance.mutants_streaming import streaming_mutants

    catalogue = [
        *auth_mutants(),
        *errors_mutants(),
        *health_mutants(),
        *versioning_mutants(),
        *voice_prompt_mutants(upload_dir),
        *generate_mutants(),
        *audio_mutants(),
        *language_mutants(),
        *judged_mutants(),
        *concurrency_mutants(upload_dir),
        *transcribe_mutants(),
        *openai_mutants(),
        *streaming_mutants(),
        *speech_mutants(),
        *robustness_mutants(),
    ]
    by_clause = {m.clause: m for m in catalogue}
    assert len(by_clause) == len(catalogue), "two mutants claim one clause"
    return by_clause
