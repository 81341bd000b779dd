"""Audio in and out, with PyAV (FFmpeg's libraries; BSD wrapper over an LGPL FFmpeg build, linked, unmodified).

In: an upload in any container FFmpeg reads (flac, mp3, mp4/m4a, ogg/opus, wav, webm …) decoded to 16 kHz mono
float32 (what speech recognisers take) and its duration, which prices a transcription before it runs.
Out: float PCM from a synthesiser, encoded as it arrives (so speech can stream) in OpenAI's ``response_format``
values, all at 24 kHz mono as OpenAI's are (``pcm`` is raw signed 16-bit little-endian).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import cast

import av
import numpy as np

from cluster.errors import InvalidRequest

RECOGNITION_RATE = 16_000
SPEECH_RATE = 24_000
#: PyAV (container format, codec) for each compressed response format
_CODECS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"), "flac": ("flac", "flac")}


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, RECOGNITION_RATE
    seconds: float


def decode(data: bytes, *, max_seconds: float) -> DecodedAudio:
    """The upload as 16 kHz mono float32; a file FFmpeg cannot read, with no audio, or longer than
    ``max_seconds`` is the caller's error (400 naming ``file``)."""
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise _unreadable("the file has no audio track")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RECOGNITION_RATE)
            pieces: list[np.ndarray] = []
            count, limit = 0, int(max_seconds * RECOGNITION_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    piece = out.to_ndarray().reshape(-1)
                    pieces.append(piece)
                    count += piece.size
                if count > limit:
                    raise InvalidRequest(
                        f"the audio is longer than {max_seconds:.0f} seconds", param="file", code="audio_too_long"
                    )
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        raise _unreadable(f"{type(exc).__name__}") from None
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)  # float32 already: one copy
    if samples.size == 0:
        raise _unreadable("no audio could be decoded")
    return DecodedAudio(samples, samples.size / RECOGNITION_RATE)


def _unreadable(why: str) -> InvalidRequest:
    return InvalidRequest(
        f"The audio file could not be decoded ({why}): it may be corrupted or in an unsupported format. "
        "Supported: flac, mp3, mp4, mpeg, mpga, m4a, ogg, opus, wav, webm.",
        param="file",
        code="invalid_value",
    )


class Encoder:
    """Float PCM at ``rate`` in, bytes of ``fmt`` out, chunk by chunk: ``feed`` returns what is ready to send,
    ``finish`` the rest. One encoder per response."""

    def __init__(self, fmt: str, rate: int) -> None:
        self.fmt = fmt
        self._rate = rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SPEECH_RATE)
        self._sink = _Sink()
        self._started = False
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        if fmt in _CODECS:
            container_format, codec = _CODECS[fmt]
            self._container = av.open(self._sink, mode="w", format=container_format)
            stream = self._container.add_stream(codec, rate=SPEECH_RATE, layout="mono")
            self._stream = cast(av.audio.stream.AudioStream, stream)

    def feed(self, pcm: np.ndarray) -> bytes:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self._rate
        return self._encode(self._resampler.resample(frame))

    def finish(self) -> bytes:
        out = self._encode(self._resampler.resample(None))
        if self._container is not None and self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        elif not self._started:  # an empty wav still gets its header
            out += self._header()
        return out + self._sink.take()

    def _encode(self, frames: list[av.AudioFrame]) -> bytes:
        if self._container is None or self._stream is None:  # wav and pcm: the samples themselves
            raw = b"".join(bytes(f.to_ndarray().astype("<i2").tobytes()) for f in frames)
            head = self._header() if not self._started else b""
            self._started = True
            return head + raw
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._sink.take()

    def _header(self) -> bytes:
        if self.fmt != "wav":
            return b""
        # a streamed WAV's sizes are not known yet: the maximum, as streaming encoders (and OpenAI) write
        unknown = 0xFFFFFFFF
        return (
            b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, SPEECH_RATE, SPEECH_RATE * 2, 2, 16)
            + b"data" + struct.pack("<I", unknown)
        )  # fmt: skip


class _Sink:
    """A write-only file for the muxer: bytes are taken as soon as they are written (nothing seeks back)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out
