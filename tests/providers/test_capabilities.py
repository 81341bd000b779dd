"""Providers by capability: each adapter declares what it serves and implements exactly that, and no adapter
has a method that only raises "not supported"."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

from cluster.providers.base import PROTOCOLS, Capability, Provider
from cluster.providers.confidential import ConfidentialProvider
from cluster.providers.local.images import DiffusersImages
from cluster.providers.local.llama_cpp import LlamaCppProvider
from cluster.providers.local.minilm import MiniLMProvider
from cluster.providers.local.rerank import EmbeddingReranker
from cluster.providers.local.speech import PiperSpeech
from cluster.providers.local.transcription import WhisperTranscriber
from cluster.providers.openai_compatible import OpenAICompatibleProvider
from cluster.settings import ProviderConfig
from cluster.tee.receipts import ReceiptStore

DECLARED = {
    OpenAICompatibleProvider: set(Capability),  # an OpenAI-compatible upstream may serve any endpoint
    ConfidentialProvider: {Capability.CHAT},
    LlamaCppProvider: {Capability.CHAT},
    MiniLMProvider: {Capability.EMBEDDINGS},
    PiperSpeech: {Capability.SPEECH},
    WhisperTranscriber: {Capability.TRANSCRIPTION},
    EmbeddingReranker: {Capability.RERANK},
    DiffusersImages: {Capability.IMAGES},
}


def _instances() -> list[Provider]:
    remote = ProviderConfig(name="r", base_url="http://127.0.0.1:9/v1", models=["m"])
    return [
        OpenAICompatibleProvider(remote),
        ConfidentialProvider(remote.model_copy(update={"tee": True}), ReceiptStore(None)),  # type: ignore[arg-type]
        LlamaCppProvider("l", Path("model.gguf"), context=512, threads=1),
        MiniLMProvider("e", Path("model.onnx"), Path("tokenizer.json"), threads=1),
        PiperSpeech("s", Path("voice.onnx"), Path("voice.onnx.json"), threads=1, bundled=False),
        WhisperTranscriber("w", lambda: Path("whisper"), multilingual=False, threads=1, pinned=None),
        EmbeddingReranker("r", Path("e5.bin"), threads=1, bundled=False),
        DiffusersImages("i", Path("pipeline"), threads=1),
    ]


@pytest.mark.parametrize("provider", _instances(), ids=lambda p: type(p).__name__)
def test_each_adapter_implements_exactly_what_it_declares(provider: Provider) -> None:
    assert set(provider.capabilities) == DECLARED[type(provider)]
    assert isinstance(provider, Provider)
    for capability, protocol in PROTOCOLS.items():
        implements = isinstance(provider, protocol)
        assert implements == (capability in provider.capabilities), f"{capability} of {type(provider).__name__}"
    assert provider.tee is isinstance(provider, ConfidentialProvider)


@pytest.mark.parametrize("adapter", list(DECLARED), ids=lambda c: c.__name__)
def test_no_method_only_raises(adapter: type) -> None:
    for klass in adapter.__mro__:
        if not klass.__module__.startswith("cluster."):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
                assert not (len(body) == 1 and isinstance(body[0], ast.Raise)), f"{klass.__name__}.{node.name}"
