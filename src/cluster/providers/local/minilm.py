"""Sentence embeddings with all-MiniLM-L6-v2 (384 dims) as int8 ONNX, on onnxruntime, in a thread of its own.

Mean pooling over the attention mask and L2 normalisation, as sentence-transformers does. Inputs are
sorted by length before batching so that padding stays short.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cluster.errors import UnsupportedParameter
from cluster.metering import Usage
from cluster.providers.base import Call, Capability, EmbeddingResult
from cluster.providers.local.worker import ModelThread
from cluster.wire.openai import EmbeddingRequest

DIMENSIONS = 384
_MAX_TOKENS = 256
_BATCH = 32


class MiniLMProvider:
    capabilities = frozenset({Capability.EMBEDDINGS})
    tee = False

    def __init__(self, name: str, model_path: Path, tokenizer_path: Path, *, threads: int | None) -> None:
        self.name = name
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._threads = threads
        self._thread = ModelThread(name)
        self._session: Any = None
        self._tokenizer: Any = None

    async def embed(self, request: EmbeddingRequest, upstream_model: str, call: Call) -> EmbeddingResult:
        texts = request.texts
        if texts is None:
            raise UnsupportedParameter("this model takes text input, not token ids", param="input")
        if request.dimensions not in (None, DIMENSIONS):
            raise UnsupportedParameter(f"this model has {DIMENSIONS} dimensions", param="dimensions")
        vectors, tokens = await self._thread.run(lambda: self.encode(texts))
        as_base64 = request.encoding_format == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(vector.tobytes()).decode() if as_base64 else vector,
            }
            for i, vector in enumerate(vectors)
        ]
        usage = Usage(prompt_tokens=tokens)
        body = {
            "object": "list",
            "data": data,
            "model": upstream_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return EmbeddingResult(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), usage)

    async def aclose(self) -> None:
        self._thread.shutdown()

    def encode(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Unit-length float32 vectors for ``texts`` (in their order) and the number of tokens read."""
        self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        tokens = 0
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            encodings = self._tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[batch] = pooled
            tokens += int(mask.sum())
        return out, tokens

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for ``texts`` (after truncation, without padding)."""
        self._load()
        return sum(sum(e.attention_mask) for e in self._tokenizer.encode_batch(texts))

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._session = ort.InferenceSession(str(self._model_path), options, providers=["CPUExecutionProvider"])
