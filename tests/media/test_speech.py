"""Text to speech with the bundled voice, through OpenAI's own client: every format decodes to audio of the
right length, the audio streams before the text is done, SSE events, and a round trip through Whisper."""

from __future__ import annotations

import base64
import io
import wave

import httpx
import openai
import orjson
import pytest

from cluster.media.audio import decode
from tests.media.conftest import wer

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
async def test_every_format_is_audio_of_plausible_length(client: openai.AsyncOpenAI, fmt: str) -> None:
    response = await client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=fmt)
    audio = response.content
    if fmt == "pcm":  # raw 24 kHz signed 16-bit little-endian mono
        seconds = len(audio) / 2 / 24_000
    elif fmt == "wav":
        with wave.open(io.BytesIO(audio)) as parsed:
            assert parsed.getframerate() == 24_000 and parsed.getnchannels() == 1 and parsed.getsampwidth() == 2
            seconds = len(parsed.readframes(10**7)) / 2 / 24_000
    else:
        seconds = decode(audio, max_seconds=60).seconds
    assert 1.5 < seconds < 6, f"{fmt}: {seconds} s for a 9-word sentence"


async def test_a_spoken_sentence_is_transcribed_back(client: openai.AsyncOpenAI) -> None:
    speech = await client.audio.speech.create(model="tts-1", voice="nova", input=SENTENCE, response_format="wav")
    text = await client.audio.transcriptions.create(
        model="whisper-1", file=("s.wav", speech.content), response_format="text"
    )
    assert wer(SENTENCE, str(text)) < 0.3, text


async def test_sse_carries_base64_audio_then_usage(local: httpx.AsyncClient) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": SENTENCE, "response_format": "pcm", "stream_format": "sse"}
    async with local.stream("POST", "/v1/audio/speech", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [orjson.loads(line[6:]) async for line in response.aiter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and set(kinds[:-1]) == {"speech.audio.delta"}
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) / 2 / 24_000 > 1.5
    assert events[-1]["usage"] == {"input_characters": len(SENTENCE)}


async def test_bad_speech_requests_are_clear_400s(local: httpx.AsyncClient) -> None:
    base = {"model": "tts-1", "voice": "alloy", "input": SENTENCE}
    for change, param in (
        ({"input": ""}, "input"),
        ({"input": "x" * 4097}, "input"),
        ({"voice": "darth"}, "voice"),
        ({"speed": 9}, "speed"),
        ({"response_format": "ogg"}, "response_format"),
        ({"model": "whisper-1"}, "model"),
    ):
        response = await local.post("/v1/audio/speech", json={**base, **change})
        assert response.status_code == 400, (change, response.text)
        assert response.json()["error"]["param"] == param, response.text


async def test_input_with_nothing_to_speak_is_a_400_and_no_charge(local: httpx.AsyncClient) -> None:
    before = (await local.get("/v1/balance")).json()["available"]
    for text in ("   ", "\U0001f642", "\u200b"):
        for fmt in ("mp3", "wav"):
            body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": fmt}
            response = await local.post("/v1/audio/speech", json=body)
            assert response.status_code == 400 and response.json()["error"]["param"] == "input", (text, response.text)
    assert (await local.get("/v1/balance")).json()["available"] == before
    assert (await local.get("/health")).json()["providers"]["local-speech"]["state"] == "closed"


async def test_with_streaming_response_reads_the_audio(client: openai.AsyncOpenAI) -> None:
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input=SENTENCE, response_format="mp3"
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        audio = b"".join([chunk async for chunk in response.iter_bytes()])
    assert 1.5 < decode(audio, max_seconds=60).seconds < 6
