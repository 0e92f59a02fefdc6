"""A tiny, randomly initialised Qwen3-TTS checkpoint, built on the spot, for tests and benchmarks.

It runs the real ``qwen_tts`` code path (config, tokenizer, talker, code predictor, speaker
encoder, 12 Hz speech tokenizer) on CPU in about a second per call on one thread, with no
download (building it takes about 0.2 s once ``qwen_tts`` is imported). It speaks
noise, not words: it exercises loading, voice prompts, batching, seeding and decoding, never
quality. The layout on disk is the one ``Qwen3TTSModel.from_pretrained(directory)`` reads from a
published checkpoint::

    config.json  generation_config.json  model.safetensors  tokenizer files
    speech_tokenizer/  config.json  model.safetensors  preprocessor_config.json

How it is made to work (each item is a constraint of ``qwen_tts`` 0.1.1):

- The text tokenizer is a byte-level BPE trained in-process. The model slices the templated
  prompt ``<|im_start|>assistant\\n{text}<|im_end|>\\n<|im_start|>assistant\\n`` by position
  (``[:, 3:-5]``), so ``assistant`` is one token and the role prefix and suffix tokenize to
  exactly 3 and 5 ids; the builder checks this.
- The talker's codec vocabulary is the codebook plus 1024 ids, the top 1024 of which generation
  suppresses (except EOS); the codec control ids and language ids sit just above the codebook.
- ``rope_scaling.mrope_section`` must sum to ``head_dim / 2``.
- The speaker encoder's config class takes no ``**kwargs``, so the ``model_type`` key that
  ``save_pretrained`` writes into ``speaker_encoder_config`` is deleted before loading.
- The speech tokenizer decoder's upsampling factors multiply to 1920 samples per frame
  (24 kHz / 12.5 Hz), and the encoder is a tiny Mimi at 12.5 Hz with the same codebooks.
- Random init would give near-silent audio (zero codebooks, weights of std 0.02). Codebooks are
  drawn at random, convolutions and linears get PyTorch's default init with zero biases, the
  decoder's SnakeBeta activations are made nearly linear (their always-positive ``sin^2`` term
  would add a large DC offset), and the last convolution is scaled so random codes decode to an
  RMS of about 0.1: audible, unclipped, without DC. The talker's codec embeddings get unit
  variance so that different codes condition the next step differently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import EncodecFeatureExtractor, Qwen2TokenizerFast

from reference_server.backends.qwen.importing import import_qwen_tts

__all__ = [
    "TINY_CODEBOOK_SIZE",
    "TINY_HIDDEN_SIZE",
    "TINY_NUM_CODE_GROUPS",
    "build_tiny_checkpoint",
]

TINY_CODEBOOK_SIZE: Final = 64
TINY_NUM_CODE_GROUPS: Final = 4
TINY_HIDDEN_SIZE: Final = 32
_HEAD_DIM: Final = 16
_SAMPLE_RATE: Final = 24000
_SAMPLES_PER_FRAME: Final = 1920
_TARGET_RMS: Final = 0.1

_SPECIAL_TOKENS: Final = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|tts_pad|>",
    "<|tts_text_bos|>",
    "<|tts_text_eod|>",
)
_LANGUAGES: Final = (
    "chinese",
    "english",
    "japanese",
    "korean",
    "german",
    "french",
    "russian",
    "portuguese",
    "spanish",
    "italian",
)
_CORPUS: Final = (
    "Hello, this is a test of a tiny speech model. The quick brown fox jumps over the lazy dog.",
    "Bonjour, ceci est un essai. Guten Tag, das ist ein Test. Hola, esto es una prueba.",
    "Ciao, questa è una prova. Olá, isto é um teste. Привет, это проверка.",
    "你好，这是一个测试。こんにちは、これはテストです。안녕하세요, 이것은 테스트입니다.",
    "0123456789 !?.,;:'\"()[]{}<>-_+=*/\\@#$%^&~`|",
)


def build_tiny_checkpoint(
    directory: str | Path, *, tts_model_type: str = "base", seed: int = 0
) -> Path:
    """Write a tiny random Qwen3-TTS checkpoint into ``directory`` and return its path.

    ``tts_model_type`` is ``base`` (voice cloning, what the backend serves) or another type such
    as ``custom_voice`` to test refusal. The same ``seed`` gives the same weights.
    """
    core = import_qwen_tts().core
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # seed locally, leave the caller's generator alone
        torch.manual_seed(seed)
        _write_model(core, root, tts_model_type)
        _write_speech_tokenizer(core, root / "speech_tokenizer")
    return root


def _write_model(core: Any, root: Path, tts_model_type: str) -> None:
    tokenizer = _build_text_tokenizer()
    token_ids = {token: tokenizer.convert_tokens_to_ids(token) for token in _SPECIAL_TOKENS}
    config = _model_config(tts_model_type, len(tokenizer), token_ids)
    model = core.models.Qwen3TTSForConditionalGeneration(core.models.Qwen3TTSConfig(**config))
    _audible_talker(model)
    model.save_pretrained(root)
    tokenizer.save_pretrained(root)
    _fix_speaker_encoder_config(root / "config.json")
    (root / "generation_config.json").write_text(
        json.dumps(_generation_config(), indent=2), encoding="utf-8"
    )


def _write_speech_tokenizer(core: Any, directory: Path) -> None:
    config = core.Qwen3TTSTokenizerV2Config(**_speech_tokenizer_config())
    speech_tokenizer = core.Qwen3TTSTokenizerV2Model(config)
    _audible_speech_tokenizer(speech_tokenizer)
    speech_tokenizer.save_pretrained(directory)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=_SAMPLE_RATE).save_pretrained(directory)


def _build_text_tokenizer() -> Any:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=list(_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(_CORPUS) * 4, trainer)
    # The role name must be one id wherever it appears, whatever BPE learned.
    backend.add_tokens(["assistant"])
    tokenizer = Qwen2TokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        unk_token="<|endoftext|>",  # noqa: S106 (a vocabulary token, not a secret)
        eos_token="<|im_end|>",  # noqa: S106
        pad_token="<|endoftext|>",  # noqa: S106
        additional_special_tokens=list(_SPECIAL_TOKENS[1:]),
    )
    _check_template_slicing(tokenizer)
    return tokenizer


def _check_template_slicing(tokenizer: Any) -> None:
    prefix = tokenizer("<|im_start|>assistant\n")["input_ids"]
    suffix = tokenizer("<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    if len(prefix) != 3 or len(suffix) != 5:
        raise RuntimeError(
            f"tiny tokenizer breaks the 3/5-id template slicing: {len(prefix)}, {len(suffix)}"
        )


def _model_config(
    tts_model_type: str, text_vocab_size: int, token_ids: dict[str, int]
) -> dict[str, Any]:
    codebook = TINY_CODEBOOK_SIZE
    codec_ids = {
        "codec_pad_id": codebook,
        "codec_bos_id": codebook + 1,
        "codec_eos_token_id": codebook + 2,
        "codec_think_id": codebook + 3,
        "codec_nothink_id": codebook + 4,
        "codec_think_bos_id": codebook + 5,
        "codec_think_eos_id": codebook + 6,
    }
    first_language_id = codebook + 16
    attention = {
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": _HEAD_DIM,
        "intermediate_size": 2 * TINY_HIDDEN_SIZE,
        "max_position_embeddings": 4096,
    }
    talker = {
        **attention,
        **codec_ids,
        "vocab_size": codebook + 1024,
        "hidden_size": TINY_HIDDEN_SIZE,
        "text_hidden_size": TINY_HIDDEN_SIZE,
        "text_vocab_size": text_vocab_size,
        "num_code_groups": TINY_NUM_CODE_GROUPS,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": [_HEAD_DIM // 4, _HEAD_DIM // 8, _HEAD_DIM // 8],
            "interleaved": True,
        },
        "codec_language_id": {
            name: first_language_id + index for index, name in enumerate(_LANGUAGES)
        },
        "spk_id": {},
        "spk_is_dialect": {},
        "code_predictor_config": {
            **attention,
            "vocab_size": codebook,
            "hidden_size": TINY_HIDDEN_SIZE,
            "num_code_groups": TINY_NUM_CODE_GROUPS,
        },
    }
    speaker_encoder = {
        "mel_dim": 128,  # fixed: extract_speaker_embedding always computes 128 mel bins
        "enc_dim": TINY_HIDDEN_SIZE,
        "enc_channels": [16, 16, 16, 16, 48],
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": 8,
        "enc_res2net_scale": 2,
        "enc_se_channels": 8,
        "sample_rate": _SAMPLE_RATE,
    }
    return {
        "talker_config": talker,
        "speaker_encoder_config": speaker_encoder,
        "tokenizer_type": "qwen3_tts_tokenizer_12hz",
        "tts_model_size": "tiny",
        "tts_model_type": tts_model_type,
        "im_start_token_id": token_ids["<|im_start|>"],
        "im_end_token_id": token_ids["<|im_end|>"],
        "tts_pad_token_id": token_ids["<|tts_pad|>"],
        "tts_bos_token_id": token_ids["<|tts_text_bos|>"],
        "tts_eos_token_id": token_ids["<|tts_text_eod|>"],
    }


def _speech_tokenizer_config() -> dict[str, Any]:
    encoder = {
        "sampling_rate": _SAMPLE_RATE,
        "frame_rate": _SAMPLE_RATE / _SAMPLES_PER_FRAME,
        "hidden_size": 16,
        "num_filters": 2,
        "upsampling_ratios": [8, 6, 5, 4],
        "upsample_groups": 16,
        "codebook_size": TINY_CODEBOOK_SIZE,
        "codebook_dim": 16,
        "vector_quantization_hidden_dimension": 16,
        "num_quantizers": TINY_NUM_CODE_GROUPS,
        "num_semantic_quantizers": 1,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "intermediate_size": 32,
    }
    decoder = {
        "codebook_size": TINY_CODEBOOK_SIZE,
        "codebook_dim": 16,
        "hidden_size": 16,
        "latent_dim": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "intermediate_size": 32,
        "num_quantizers": TINY_NUM_CODE_GROUPS,
        "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2],  # 8 * 5 * 4 * 3 * 2 * 2 = 1920 samples per frame
        "decoder_dim": 32,
    }
    return {
        "encoder_config": encoder,
        "decoder_config": decoder,
        "encoder_valid_num_quantizers": TINY_NUM_CODE_GROUPS,
        "input_sample_rate": _SAMPLE_RATE,
        "output_sample_rate": _SAMPLE_RATE,
        "decode_upsample_rate": _SAMPLES_PER_FRAME,
        "encode_downsample_rate": _SAMPLES_PER_FRAME,
    }


def _generation_config() -> dict[str, Any]:
    return {
        "do_sample": True,
        "top_k": 50,
        "top_p": 1.0,
        "temperature": 0.9,
        "repetition_penalty": 1.05,
        "subtalker_dosample": True,
        "subtalker_top_k": 50,
        "subtalker_top_p": 1.0,
        "subtalker_temperature": 0.9,
        "max_new_tokens": 2048,
    }


def _fix_speaker_encoder_config(config_path: Path) -> None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["speaker_encoder_config"].pop("model_type", None)
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def _audible_talker(model: torch.nn.Module) -> None:
    """Spread the talker's codec embeddings so different codes give different hidden states."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "codec_embedding" in name:
                parameter.normal_(0.0, 1.0)


def _audible_speech_tokenizer(model: Any) -> None:
    """Make the random speech tokenizer carry its codes to the waveform, at a sane level.

    Codebooks are drawn at random (the encoder's are buffers), convolutions and linears get
    PyTorch's default init with zero biases, and the decoder's SnakeBeta activations are made
    nearly linear (their ``sin^2`` term is always positive and would add a large DC offset).
    Finally the last convolution is scaled so that random codes decode to an RMS of about
    ``_TARGET_RMS``: audible, rarely clipped.
    """
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if name.endswith("embedding_sum"):
                tensor.normal_(0.0, 1.0)
            elif name.endswith("embed_sum"):
                tensor.normal_(0.0, 0.1)
        for module in model.modules():
            if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d | torch.nn.Linear):
                module.reset_parameters()
                if module.bias is not None:
                    module.bias.zero_()
        for name, parameter in model.decoder.named_parameters():
            if name.endswith(".alpha"):
                parameter.fill_(-6.0)  # exp(-6) ~ 0.0025: sin^2(0.0025 x) is negligible
        final_conv = model.decoder.decoder[-1].conv
        codes = torch.randint(0, TINY_CODEBOOK_SIZE, (1, 50, TINY_NUM_CODE_GROUPS))
        audio = model.decoder(codes.transpose(1, 2))
        final_conv.weight.mul_(_TARGET_RMS / float(audio.std()))
