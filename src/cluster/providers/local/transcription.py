"""Speech to text with Whisper on CTranslate2 (``faster-whisper``, MIT), int8 on CPU, in a thread of its own.

Two bundled models: tiny.en (English only, the default; 0 word errors on 44 s of read speech in the feasibility
probe) and base (multilingual: other languages and ``/v1/audio/translations``, which an English-only model
refuses). The audio arrives decoded (the gateway decoded it to price it); segments come from a lazy generator,
so ``stream: true`` sends each segment's text as a ``transcript.text.delta`` event as soon as it is decoded.
Greedy decoding (beam 1) at the request's temperature; word timestamps only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster.errors import InvalidRequest
from cluster.media import transcripts
from cluster.metering import Usage
from cluster.providers.base import AudioUpload, Call, Capability, Completion
from cluster.providers.local import assets
from cluster.providers.local.worker import ModelThread, ThreadStream
from cluster.wire import sse
from cluster.wire.audio import Segment, TranscriptionRequest, Word

_LANGUAGES = {"en": "english"}  # verbose_json names the language; Whisper reports the code


class WhisperTranscriber:
    capabilities = frozenset({Capability.TRANSCRIPTION})
    tee = False

    def __init__(
        self, name: str, model_dir: Callable[[], Path], *, multilingual: bool, threads: int | None, pinned: str | None
    ) -> None:
        """``model_dir`` is found when the model loads (the multilingual one is first assembled from its parts)."""
        self.name = name
        self._model_dir = model_dir
        self._multilingual = multilingual
        self._threads = threads
        self._pinned = pinned  # the assets name whose sha256 the model file must have (bundled models)
        self._thread = ModelThread(name)
        self._model: Any = None

    async def transcribe(
        self, request: TranscriptionRequest, audio: AudioUpload, upstream_model: str, call: Call
    ) -> Completion | ThreadStream:
        if not self._multilingual and request.task == "translate":
            raise InvalidRequest(
                f"'{request.model}' is English-only: translations need a multilingual model", param="model"
            )
        language = (request.language or "").lower() or None
        if not self._multilingual and language not in (None, "en"):
            raise InvalidRequest(f"'{request.model}' is English-only", param="language")
        if language is not None and language not in _language_codes():
            raise InvalidRequest(f"unknown language '{request.language}' (an ISO-639-1 code)", param="language")
        request = request.model_copy(update={"language": language})
        if request.stream:
            return self._thread.stream(lambda stream: self._stream(stream, request, audio))
        segments, words, detected = await self._thread.run(lambda: self._run(request, audio))
        body = transcripts.render(
            request.response_format,
            task=request.task,
            language=_LANGUAGES.get(detected, detected),
            seconds=audio.decoded.seconds,
            segments=segments,
            words=words,
        )
        usage = Usage(seconds=math.ceil(audio.decoded.seconds))
        return Completion(body, usage, content_type=transcripts.CONTENT_TYPES[request.response_format])

    async def aclose(self) -> None:
        self._thread.shutdown()

    def _run(self, request: TranscriptionRequest, audio: AudioUpload) -> tuple[list[Segment], list[Word] | None, str]:
        found, info = self._segments(request, audio)
        segments: list[Segment] = []
        words: list[Word] | None = [] if "word" in request.timestamp_granularities else None
        for n, piece in enumerate(found):
            segments.append(_segment(n, piece))
            if words is not None:
                words += [Word(word=w.word.strip(), start=w.start, end=w.end) for w in piece.words or []]
        return segments, words, info.language

    def _stream(self, stream: ThreadStream, request: TranscriptionRequest, audio: AudioUpload) -> None:
        stream.usage = Usage(seconds=math.ceil(audio.decoded.seconds))
        found, _ = self._segments(request, audio)
        text = ""
        for piece in found:
            if stream.stopped:
                return
            delta = piece.text if text else piece.text.lstrip()
            text += delta
            stream.put(sse.event({"type": "transcript.text.delta", "delta": delta}))
        usage = {"type": "duration", "seconds": round(audio.decoded.seconds, 3)}
        stream.put(sse.event({"type": "transcript.text.done", "text": text.strip(), "usage": usage}))

    def _segments(self, request: TranscriptionRequest, audio: AudioUpload) -> tuple[Any, Any]:
        self._load()
        found: tuple[Any, Any] = self._model.transcribe(
            audio.decoded.samples,
            language=request.language or (None if self._multilingual else "en"),
            task=request.task,
            initial_prompt=request.prompt or None,
            temperature=request.temperature,
            beam_size=1,
            word_timestamps="word" in request.timestamp_granularities,
            condition_on_previous_text=False,
        )
        return found

    def _load(self) -> None:
        if self._model is not None:
            return
        from faster_whisper import WhisperModel

        folder = self._model_dir()
        if self._pinned:
            assets.verified(folder / "model.bin", self._pinned)
        self._model = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=self._threads or 0, num_workers=1
        )


def _language_codes() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def _segment(n: int, piece: Any) -> Segment:
    return Segment(
        id=n,
        seek=int(piece.seek),
        start=round(float(piece.start), 3),
        end=round(float(piece.end), 3),
        text=piece.text,
        tokens=list(piece.tokens),
        temperature=float(piece.temperature or 0.0),
        avg_logprob=float(piece.avg_logprob),
        compression_ratio=float(piece.compression_ratio),
        no_speech_prob=float(piece.no_speech_prob),
    )
