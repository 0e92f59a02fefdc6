"""The ``qwen`` backend: real Qwen3-TTS (12 Hz Base models, voice cloning) via ``qwen_tts``.

Seeds. ``qwen_tts`` has no seed argument: generation samples from torch's global random
generators, which are process-wide. Each generation therefore seeds them (``torch.manual_seed``
seeds the CPU and every CUDA generator) and generates while holding one process-wide lock, so no
other request can draw from, or reseed, the generators in between. An unseeded job gets a fresh
random seed, so it does not inherit the state a previous seeded job left behind.

Batching. A batch shares one random stream and one padded set of shapes, so a seeded job would
not get, inside a batch, the audio it gets alone; SPEC.md section 6 promises that it does. The
rule is therefore: seeded jobs always run alone, unseeded jobs may share a batch.
:func:`batch_key` states the rule for the scheduler (equal keys may share a batch, ``None`` runs
alone) and :meth:`QwenBackend.generate` enforces it anyway by splitting whatever it is given.

Determinism. On CPU, a seeded job alone gives bit-identical audio every time, so
``deterministic`` is True. On a GPU it is declared False unless the process has enabled
``torch.use_deterministic_algorithms(True)`` (which also needs ``CUBLAS_WORKSPACE_CONFIG`` set):
cuBLAS and attention kernels may pick reduction orders at run time, so identical inputs are
usually, but not by any guarantee, bit-identical, and the protocol's promise is bit-exactness.

Streaming (SPEC.md §14) is sentence by sentence: qwen-tts 0.1.1's
``Qwen3TTSForConditionalGeneration.generate`` passes only its own ``talker_kwargs`` to the
talker's transformers ``generate`` (no ``streamer``, no logits processor gets through) and
returns the codes once the talker stops, so frames cannot leave earlier without hooking the
talker's forward pass or forking the package. Each sentence is one seeded call; a seeded job's
whole clip is made the same way, so the stream and the clip are the same samples.

Length. ``max_new_tokens`` is bounded from the text so that a generation that never samples EOS
stops where SPEC.md AUD-10 stops calling a duration plausible: ``ceil(frame_rate * (2 s + 0.25 s
per character))`` codec frames for the longest text of a batch (12.5 frames per second for 12 Hz
models), and never more than the checkpoint's own ``max_new_tokens``.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch

from reference_server.backends.base import BackendError, GenerateJob, Synthesis
from reference_server.backends.qwen.devices import resolve_device, resolve_dtype
from reference_server.backends.qwen.importing import import_qwen_tts
from reference_server.backends.qwen.languages import declared_languages, qwen_language_name
from reference_server.backends.qwen.prompt import (
    MAX_REF_TEXT_CHARS,
    ParsedVoice,
    PromptLimits,
    parse_voice_prompt,
    serialize_voice_prompt,
)
from reference_server.backends.sentences import split_sentences

__all__ = [
    "MAX_REFERENCE_SECONDS",
    "MIN_REFERENCE_SECONDS",
    "QwenBackend",
    "UnsupportedModelError",
    "batch_key",
    "check_model_config",
    "max_new_tokens_for",
    "plan_batches",
]

logger = logging.getLogger(__name__)

MIN_REFERENCE_SECONDS: Final = 0.5
MAX_REFERENCE_SECONDS: Final = 30.0
"""At most this much of a reference is used, so an upload of any length (SPEC.md VP-6 accepts
10 MiB, minutes of audio) costs a bounded encode. A longer reference is trimmed to its start and
cloned in x-vector-only mode even with a transcript: the transcript cannot be trimmed to match,
and in ICL mode every generation would prefill and decode the whole reference again."""
_BASE_SECONDS: Final = 2.0
_SECONDS_PER_CHARACTER: Final = 0.25
_DEFAULT_MAX_NEW_TOKENS: Final = 2048
_SHARED_BATCH: Final = "qwen3-tts:unseeded"
_SAMPLING_KEYS: Final = frozenset(
    {
        "do_sample",
        "top_k",
        "top_p",
        "temperature",
        "repetition_penalty",
        "subtalker_dosample",
        "subtalker_top_k",
        "subtalker_top_p",
        "subtalker_temperature",
    }
)
# torch's default generators are per process, so is the lock that guards seeding + generation.
_GENERATION_LOCK: Final = threading.Lock()


class UnsupportedModelError(ValueError):
    """The checkpoint is not a 12 Hz Base (voice-clone) Qwen3-TTS model."""


def check_model_config(config: Mapping[str, Any]) -> None:
    """Refuse anything but a 12 Hz Base model, with a message that says what to use instead."""
    model_type = config.get("tts_model_type")
    if model_type != "base":
        raise UnsupportedModelError(
            f"this backend clones voices and needs a Qwen3-TTS Base model; this checkpoint is "
            f"tts_model_type={model_type!r} (e.g. use Qwen/Qwen3-TTS-12Hz-1.7B-Base)"
        )
    tokenizer_type = config.get("tokenizer_type")
    if tokenizer_type != "qwen3_tts_tokenizer_12hz":
        raise UnsupportedModelError(
            f"this backend serves 12 Hz Qwen3-TTS models; this checkpoint uses {tokenizer_type!r}"
        )


def batch_key(job: GenerateJob) -> Hashable | None:
    """Which jobs may share one ``generate`` call: equal keys may, ``None`` must run alone."""
    return None if job.seed is not None else _SHARED_BATCH


def plan_batches(jobs: Sequence[GenerateJob], max_batch_size: int) -> list[list[int]]:
    """Indices of ``jobs`` grouped into model calls that respect :func:`batch_key`."""
    alone: list[list[int]] = []
    shared: dict[Hashable, list[int]] = {}
    for index, job in enumerate(jobs):
        key = batch_key(job)
        if key is None:
            alone.append([index])
        else:
            shared.setdefault(key, []).append(index)
    chunks = [
        group[start : start + max_batch_size]
        for group in shared.values()
        for start in range(0, len(group), max_batch_size)
    ]
    return alone + chunks


def max_new_tokens_for(texts: Sequence[str], frame_rate: float, ceiling: int) -> int:
    """Codec frames allowed for a batch: 2 s plus 0.25 s per character of its longest text."""
    longest = max(len(text) for text in texts)
    seconds = _BASE_SECONDS + _SECONDS_PER_CHARACTER * longest
    return max(1, min(ceiling, math.ceil(frame_rate * seconds)))


class QwenBackend:
    """A loaded Qwen3-TTS Base model behind the ``TTSBackend`` interface.

    Build it with :meth:`load`. Thread safety: ``generate`` calls are serialised by a process-wide
    lock; ``create_voice_prompt`` and ``parse_voice_prompt`` touch neither the random generators
    nor the talker's per-call state and may run beside a generation.
    """

    name = "qwen"
    stream_granularity = "sentence"

    def __init__(
        self,
        tts: Any,
        *,
        model_name: str,
        device: str,
        max_batch_size: int | None = None,
        sampling: Mapping[str, Any] | None = None,
    ) -> None:
        inner = tts.model
        check_model_config(
            {"tts_model_type": inner.tts_model_type, "tokenizer_type": inner.tokenizer_type}
        )
        self._tts: Any = tts
        self._qwen_tts = import_qwen_tts()
        self._sampling = _checked_sampling(sampling or {})
        self.model = model_name
        self.device = device
        self.max_batch_size = max_batch_size or (8 if device.startswith("cuda") else 4)
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.deterministic = device == "cpu" or torch.are_deterministic_algorithms_enabled()
        self.dtype = str(inner.dtype).removeprefix("torch.")
        self.languages = declared_languages(tts.get_supported_languages())
        speech = inner.speech_tokenizer
        self.sample_rate = int(speech.get_output_sample_rate())
        self._frame_rate = self.sample_rate / int(speech.get_decode_upsample_rate())
        self._max_new_tokens = int(tts.generate_defaults.get("max_new_tokens", 0)) or (
            _DEFAULT_MAX_NEW_TOKENS
        )
        self._limits = _prompt_limits(inner.config, speech)
        _pad_with_eos(inner)

    @classmethod
    def load(
        cls,
        name_or_dir: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        attn_implementation: str | None = None,
        max_batch_size: int | None = None,
        model_name: str | None = None,
        sampling: Mapping[str, Any] | None = None,
    ) -> QwenBackend:
        """Load a checkpoint (a local directory or a hub id) with ``Qwen3TTSModel``.

        ``device``: cpu, cuda, cuda:N, rocm, rocm:N or auto. ``dtype``: auto (bfloat16 on a GPU,
        float32 on CPU), bfloat16, float16 or float32. ``sampling`` overrides the checkpoint's
        sampling settings (e.g. ``{"do_sample": False}``); unknown keys are refused, since
        ``qwen_tts`` would ignore them silently.
        """
        resolved_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, resolved_device)
        local_config = Path(name_or_dir) / "config.json"
        if local_config.is_file():
            check_model_config(json.loads(local_config.read_text(encoding="utf-8")))
        options: dict[str, Any] = {"device_map": resolved_device, "dtype": torch_dtype}
        if attn_implementation:
            options["attn_implementation"] = attn_implementation
        qwen_tts = import_qwen_tts()
        tts = qwen_tts.Qwen3TTSModel.from_pretrained(str(name_or_dir), **options)
        logger.info("loaded %s on %s as %s", name_or_dir, resolved_device, torch_dtype)
        return cls(
            tts,
            model_name=model_name or _display_name(name_or_dir),
            device=resolved_device,
            max_batch_size=max_batch_size,
            sampling=sampling,
        )

    # -- voice prompts ---------------------------------------------------------------------------

    def create_voice_prompt(
        self, audio: npt.NDArray[np.float32], sample_rate: int, reference_text: str
    ) -> dict[str, Any]:
        """A voice prompt from mono reference audio: ICL mode with a transcript, x-vector-only
        mode without one, or when the reference is longer than MAX_REFERENCE_SECONDS."""
        tts = self._require_model()
        samples = _reference_samples(audio, sample_rate)
        text = reference_text.strip()
        if len(text) > MAX_REF_TEXT_CHARS:
            raise BackendError(f"reference_text is longer than {MAX_REF_TEXT_CHARS} characters")
        limit = int(MAX_REFERENCE_SECONDS * sample_rate)
        icl = bool(text) and samples.size <= limit
        if samples.size > limit:
            logger.warning(
                "reference of %.1f s trimmed to %.0f s%s",
                samples.size / sample_rate,
                MAX_REFERENCE_SECONDS,
                "; x-vector-only prompt, transcript unused" if text else "",
            )
            samples = samples[:limit]
        items = tts.create_voice_clone_prompt(
            ref_audio=(samples, int(sample_rate)),
            ref_text=text if icl else None,
            x_vector_only_mode=not icl,
        )
        return serialize_voice_prompt(items[0], self.model)

    def parse_voice_prompt(self, prompt: dict[str, Any]) -> ParsedVoice:
        return parse_voice_prompt(prompt, self._limits)

    # -- generation ------------------------------------------------------------------------------

    def batch_key(self, job: GenerateJob) -> Hashable | None:
        """See :func:`batch_key`: equal keys may share a batch, ``None`` runs alone."""
        return batch_key(job)

    def stream(self, job: GenerateJob) -> Iterator[Synthesis]:
        """One seeded call per sentence, each yielded as it is made (module doc, Streaming)."""
        language = qwen_language_name(job.language, self.languages)
        if not isinstance(job.voice, ParsedVoice):
            raise TypeError("GenerateJob.voice must come from QwenBackend.parse_voice_prompt")
        seed = job.seed if job.seed is not None else secrets.randbits(32)
        for sentence in split_sentences(job.text):
            piece = replace(job, text=sentence, seed=seed)
            yield self._generate_batch([piece], [language])[0]

    def generate(self, jobs: Sequence[GenerateJob]) -> list[Synthesis]:
        """Synthesise each job; seeded jobs run alone, unseeded ones in batches (module doc)."""
        self._require_model()
        languages = [qwen_language_name(job.language, self.languages) for job in jobs]
        for job in jobs:
            if not isinstance(job.voice, ParsedVoice):
                raise TypeError("GenerateJob.voice must come from QwenBackend.parse_voice_prompt")
        results: dict[int, Synthesis] = {}
        for indices in plan_batches(jobs, self.max_batch_size):
            batch = [jobs[index] for index in indices]
            if len(batch) == 1 and batch[0].seed is not None:
                syntheses = [_joined(list(self.stream(batch[0])))]  # the stream's samples
            else:
                syntheses = self._generate_batch(batch, [languages[index] for index in indices])
            results.update(zip(indices, syntheses, strict=True))
        return [results[index] for index in range(len(jobs))]

    def max_new_tokens(self, texts: Sequence[str]) -> int:
        """The codec-frame budget of one call generating ``texts`` (module doc, Length)."""
        return max_new_tokens_for(texts, self._frame_rate, self._max_new_tokens)

    def _generate_batch(self, batch: list[GenerateJob], languages: list[str]) -> list[Synthesis]:
        tts = self._require_model()
        texts = [job.text for job in batch]
        seed = batch[0].seed if batch[0].seed is not None else secrets.randbits(32)
        prompt_items = [self._prompt_item(job.voice) for job in batch]
        options = {**self._sampling, "max_new_tokens": self.max_new_tokens(texts)}
        with _GENERATION_LOCK:
            torch.manual_seed(seed)
            wavs, rate = tts.generate_voice_clone(
                text=texts, language=languages, voice_clone_prompt=prompt_items, **options
            )
        if len(wavs) != len(batch):
            raise RuntimeError(f"qwen_tts returned {len(wavs)} clips for {len(batch)} texts")
        return [Synthesis(samples=_finished(wav), sample_rate=int(rate)) for wav in wavs]

    def _prompt_item(self, voice: ParsedVoice) -> Any:
        """The package's prompt item, with tensors on the model's device and dtype.

        A list of these goes to ``generate_voice_clone``: its dict form crashes in ICL mode."""
        inner = self._require_model().model
        ref_code = None if voice.ref_code is None else voice.ref_code.to(inner.device)
        return self._qwen_tts.VoiceClonePromptItem(
            ref_code=ref_code,
            ref_spk_embedding=voice.speaker_embedding.to(device=inner.device, dtype=inner.dtype),
            x_vector_only_mode=not voice.icl_mode,
            icl_mode=voice.icl_mode,
            ref_text=voice.ref_text,
        )

    def close(self) -> None:
        """Drop the model and return the GPU memory it held. The backend is unusable after."""
        if self._tts is None:
            return
        self._tts = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def _require_model(self) -> Any:
        if self._tts is None:
            raise RuntimeError("the qwen backend is closed")
        return self._tts


def _joined(pieces: list[Synthesis]) -> Synthesis:
    if len(pieces) == 1:
        return pieces[0]
    samples = np.concatenate([piece.samples for piece in pieces])
    return Synthesis(samples=samples, sample_rate=pieces[0].sample_rate)


def _pad_with_eos(inner: Any) -> None:
    """Give the talker the pad id transformers would fall back to (its EOS), explicitly.

    Same behaviour, minus a "Setting pad_token_id to eos_token_id" warning on every request."""
    generation_config = inner.talker.generation_config
    if generation_config.pad_token_id is None:
        generation_config.pad_token_id = inner.config.talker_config.codec_eos_token_id


def _checked_sampling(sampling: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(sampling) - _SAMPLING_KEYS
    if unknown:
        raise ValueError(
            f"unknown sampling options {sorted(unknown)}; known: {sorted(_SAMPLING_KEYS)}"
        )
    return dict(sampling)


def _prompt_limits(config: Any, speech_tokenizer: Any) -> PromptLimits:
    talker = config.talker_config
    frames_per_second = int(speech_tokenizer.get_input_sample_rate()) / int(
        speech_tokenizer.get_encode_downsample_rate()
    )
    return PromptLimits(
        embedding_dim=int(talker.hidden_size),
        num_code_groups=int(talker.num_code_groups),
        codebook_size=int(talker.code_predictor_config.vocab_size),
        max_frames=math.ceil(MAX_REFERENCE_SECONDS * frames_per_second) + 1,
    )


def _reference_samples(audio: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise BackendError("reference audio must be mono")
    if sample_rate <= 0:
        raise BackendError("reference audio has no valid sample rate")
    if samples.size < MIN_REFERENCE_SECONDS * sample_rate:
        raise BackendError(f"reference audio is shorter than {MIN_REFERENCE_SECONDS} s")
    if not np.isfinite(samples).all():
        raise BackendError("reference audio has non-finite samples")
    return np.clip(samples, -1.0, 1.0)


def _finished(wav: Any) -> npt.NDArray[np.float32]:
    """Mono float32 within [-1, 1]; non-finite samples (never seen so far) are logged and zeroed."""
    samples = np.asarray(wav, dtype=np.float32).reshape(-1)
    finite = np.isfinite(samples)
    if not finite.all():
        logger.error(
            "Qwen3-TTS produced %d non-finite samples out of %d; replaced with 0",
            int(samples.size - finite.sum()),
            samples.size,
        )
        samples = np.where(finite, samples, np.float32(0.0))
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)


def _display_name(name_or_dir: str | Path) -> str:
    """A name for /health that never shows a filesystem path.

    A hub id is shown as given; a local directory by its name, or, inside a hub cache snapshot
    (``models--Org--Name/snapshots/<hash>``), as ``Org/Name``.
    """
    path = Path(name_or_dir)
    if not path.is_dir():
        return str(name_or_dir)
    path = path.resolve()
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
        return path.parent.parent.name.removeprefix("models--").replace("--", "/")
    return path.name
