"""The mock upstream's other modalities (speech, transcription, rerank and score, images), answered with real
media so the gateway's decoding and the clients' parsing are exercised: a WAV tone for speech, PNGs drawn with
Pillow for images, a lexical-overlap score for rerank. Which upstream answered is in the text or the image's
colour. Imported by ``mock_upstream.py``."""

from __future__ import annotations

import base64
import io
import math
import re
import struct
from typing import Any

import orjson

COLOURS = {"a": (200, 30, 30), "b": (30, 30, 200)}


def wav_tone(seconds: float = 1.0, rate: int = 24_000) -> bytes:
    samples = int(seconds * rate)
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(samples))
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(pcm))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    )
    return header + b"data" + struct.pack("<I", len(pcm)) + pcm


def png(name: str, size: tuple[int, int] = (64, 64)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, COLOURS.get(name, (30, 200, 30))).save(out, format="PNG")
    return out.getvalue()


def answer(name: str, path: str, body: bytes, base: str) -> tuple[int, bytes, bytes] | None:
    """(status, content type, body) for a media path, or None when the path is not one."""
    if path.endswith("/audio/speech"):
        return 200, b"audio/wav", wav_tone()
    if path.endswith(("/audio/transcriptions", "/audio/translations")):
        fields = dict(re.findall(rb'name="([a-z_]+)"\r\n\r\n([^\r]*)\r\n', body))
        text = f"mock transcript from {name}"
        fmt = fields.get(b"response_format", b"json").decode()
        if fmt in ("text", "srt", "vtt"):
            return 200, b"text/plain; charset=utf-8", (text + "\n").encode()
        return 200, b"application/json", orjson.dumps({"text": text, "usage": {"type": "duration", "seconds": 1}})
    request: dict[str, Any] = orjson.loads(body)
    if path.endswith("/rerank"):
        query = set(request["query"].lower().split())
        scored = [
            {"index": i, "relevance_score": len(query & set(doc.lower().split())) / (len(query) or 1), "document": doc}
            for i, doc in enumerate(request["documents"])
        ]
        scored.sort(key=lambda r: -r["relevance_score"])
        tokens = sum(len(d.split()) for d in request["documents"]) + len(query)
        result = {
            "id": f"rerank-{name}",
            "results": scored[: request.get("top_n") or None],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return 200, b"application/json", orjson.dumps(result)
    if path.endswith("/score"):
        left = request["text_1"] if isinstance(request["text_1"], list) else [request["text_1"]]
        right = request["text_2"] if isinstance(request["text_2"], list) else [request["text_2"]]
        pairs = [(left[0], r) for r in right] if len(left) == 1 else list(zip(left, right, strict=False))
        data = [{"index": i, "object": "score", "score": float(a == b)} for i, (a, b) in enumerate(pairs)]
        return (
            200,
            b"application/json",
            orjson.dumps(
                {
                    "id": f"score-{name}",
                    "object": "list",
                    "created": 0,
                    "model": "mock",
                    "data": data,
                    "usage": {"prompt_tokens": len(pairs), "total_tokens": len(pairs)},
                }
            ),
        )
    if path.endswith("/images/generations"):
        count = int(request.get("n", 1))
        if request.get("mock_url"):  # an upstream that answers with URLs whatever was asked
            data = [{"url": f"{base}/mock-images/{name}.png"} for _ in range(count)]
        else:
            data = [
                {"b64_json": base64.b64encode(png(name)).decode(), "revised_prompt": f"{name}: {request['prompt']}"}
                for _ in range(count)
            ]
        return 200, b"application/json", orjson.dumps({"created": 0, "data": data})
    return None
