"""OpenAI's audio endpoints: ``POST /v1/audio/speech`` (JSON in, audio out: raw chunks, or SSE with
``stream_format: sse``) and ``POST /v1/audio/transcriptions`` / ``translations`` (multipart)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from cluster.api.deps import MediaDep, SpeechAccess, TranscriptionAccess, TranslationAccess
from cluster.api.responses import served_response
from cluster.errors import InvalidRequest, PayloadTooLarge
from cluster.gateway.context import RequestContext
from cluster.gateway.media import MediaService
from cluster.wire.audio import (
    MAX_AUDIO_BYTES,
    SPEECH_CONTENT_TYPES,
    SpeechRequest,
    TranscriptionRequest,
)
from cluster.wire.openai import ErrorResponse

router = APIRouter(prefix="/v1/audio", tags=["audio"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 402, 403, 404, 413, 429, 502, 503)
}
_AUDIO: dict[str, Any] = {content_type: {} for content_type in SPEECH_CONTENT_TYPES.values()}
_AUDIO["text/event-stream"] = {}
# json / verbose_json (wire.audio.Transcription, VerboseTranscription), text / srt / vtt, or events
_TRANSCRIPT: dict[str, Any] = {"application/json": {}, "text/plain": {}, "text/event-stream": {}}


@router.post("/speech", response_class=Response, responses={**_ERRORS, 200: {"content": _AUDIO}})
async def create_speech(body: SpeechRequest, media: MediaDep, ctx: SpeechAccess) -> Response:
    """Text to speech. The audio streams as it is synthesised (``stream_format: audio``), or as
    ``speech.audio.delta`` events (``sse``)."""
    return served_response(await media.speech(body, ctx), ctx)


Upload = Annotated[UploadFile, File(description="flac, mp3, mp4, mpeg, mpga, m4a, ogg, opus, wav or webm; ≤ 25 MB")]


@router.post("/transcriptions", response_class=Response, responses={**_ERRORS, 200: {"content": _TRANSCRIPT}})
async def create_transcription(
    media: MediaDep,
    ctx: TranscriptionAccess,
    file: Upload,
    model: Annotated[str, Form()],
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
    response_format: Annotated[str, Form()] = "json",
    timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
    stream: Annotated[bool, Form()] = False,
) -> Response:
    """Speech to text in the audio's language (``json``, ``text``, ``srt``, ``verbose_json``, ``vtt``); with
    ``stream`` the text arrives as ``transcript.text.delta`` events."""
    fields = {
        "model": model,
        "language": language,
        "prompt": prompt,
        "temperature": temperature,
        "response_format": response_format,
        "timestamp_granularities": timestamp_granularities or ["segment"],
        "stream": stream,
    }
    return await _transcribe(media, ctx, file, fields)


@router.post("/translations", response_class=Response, responses={**_ERRORS, 200: {"content": _TRANSCRIPT}})
async def create_translation(
    media: MediaDep,
    ctx: TranslationAccess,
    file: Upload,
    model: Annotated[str, Form()],
    prompt: Annotated[str | None, Form()] = None,
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
    response_format: Annotated[str, Form()] = "json",
) -> Response:
    """Speech in any language to English text (a multilingual model)."""
    fields = {"model": model, "task": "translate", "prompt": prompt, "temperature": temperature}
    return await _transcribe(media, ctx, file, fields | {"response_format": response_format})


async def _transcribe(media: MediaService, ctx: RequestContext, file: UploadFile, fields: dict[str, Any]) -> Response:
    try:
        try:
            request = TranscriptionRequest.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        data = await file.read(MAX_AUDIO_BYTES + 1)
        if len(data) > MAX_AUDIO_BYTES:
            raise PayloadTooLarge(f"the audio file is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB", param="file")
        if not data:
            raise InvalidRequest("the audio file is empty", param="file")
        filename = file.filename or "audio"
        content_type = file.content_type or "application/octet-stream"
        return served_response(await media.transcribe(request, data, filename, content_type, ctx), ctx)
    finally:
        await file.close()  # a spooled upload's temporary file goes now, whatever happened
