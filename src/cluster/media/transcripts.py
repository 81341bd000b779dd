"""A transcript in each of OpenAI's ``response_format`` values, from its segments (and words)."""

from __future__ import annotations

import orjson

from cluster.wire.audio import Segment, Transcription, TranscriptionUsage, VerboseTranscription, Word

#: the content type each format is answered with
CONTENT_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/plain; charset=utf-8",
}


def render(
    fmt: str,
    *,
    task: str,
    language: str,
    seconds: float,
    segments: list[Segment],
    words: list[Word] | None,
) -> bytes:
    text = "".join(s.text for s in segments).strip()
    usage = TranscriptionUsage(seconds=round(seconds, 3))
    if fmt == "json":
        return orjson.dumps(Transcription(text=text, usage=usage).model_dump())
    if fmt == "verbose_json":
        verbose = VerboseTranscription(
            task=task,
            language=language,
            duration=round(seconds, 3),
            text=text,
            segments=segments,
            words=words,
            usage=usage,
        )
        return orjson.dumps(verbose.model_dump(exclude_none=True))
    if fmt == "text":
        return (text + "\n").encode()
    if fmt == "srt":
        cues = (
            f"{n}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
            for n, s in enumerate(segments, 1)
        )
        return "\n".join(cues).encode()
    cues = (f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in segments)
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


def _clock(seconds: float, mark: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02}:{minutes:02}:{secs:02}{mark}{millis:03}"
