"""OpenAI audio wire models: text to speech (``/v1/audio/speech``) and speech to text
(``/v1/audio/transcriptions``, ``/v1/audio/translations``).

Transcription requests are multipart forms, not JSON: the route reads the form into ``TranscriptionRequest``
(the upload itself travels beside it as ``AudioUpload``) so that bounds and errors are the same as elsewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
Granularity = Literal["word", "segment"]
TranscriptFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
MAX_SPEECH_INPUT = 4096  # characters, as OpenAI
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # an upload, as OpenAI

#: the content type of each speech format (``pcm``: raw 24 kHz signed 16-bit little-endian mono)
SPEECH_CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str = Field(min_length=1, max_length=MAX_SPEECH_INPUT)
    voice: str = Field(min_length=1, max_length=64)
    instructions: str | None = Field(None, max_length=4096)
    response_format: SpeechFormat = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"


class TranscriptionRequest(BaseModel):
    """The form fields of a transcription or translation (``task``: which of the two endpoints)."""

    model: str = Field(min_length=1)
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = Field(None, min_length=2, max_length=8, pattern=r"^[a-zA-Z-]+$", description="ISO-639-1")
    prompt: str | None = Field(None, max_length=4096)
    temperature: float = Field(0.0, ge=0, le=1)
    response_format: TranscriptFormat = "json"
    timestamp_granularities: list[Granularity] = Field(default_factory=lambda: list[Granularity](["segment"]))
    stream: bool = False


class TranscriptionUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class Word(BaseModel):
    word: str
    start: float
    end: float


class Segment(BaseModel):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = Field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


class Transcription(BaseModel):
    """``json`` answer (``text`` and ``usage``)."""

    text: str
    usage: TranscriptionUsage | None = None


class VerboseTranscription(BaseModel):
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[Segment]
    words: list[Word] | None = None
    usage: TranscriptionUsage | None = None
