"""Speech to text with the bundled Whisper models on a real recorded clip, through OpenAI's own client: every
response format, word timestamps, streaming events in order, translation with the multilingual model, and bad
uploads refused clearly."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest

from tests.media.conftest import CLIPS, TWO_CITIES, wer

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
CLIP = (CLIPS / "two_cities.wav").read_bytes()


async def test_json_and_text_match_the_reading(client: openai.AsyncOpenAI) -> None:
    result = await client.audio.transcriptions.create(model="whisper-1", file=("two_cities.wav", CLIP))
    assert wer(TWO_CITIES, result.text) < 0.1, result.text
    assert result.usage is not None and result.usage.type == "duration" and 40 < result.usage.seconds < 50
    text = await client.audio.transcriptions.create(model="whisper-1", file=("c.wav", CLIP), response_format="text")
    assert wer(TWO_CITIES, str(text)) < 0.1


async def test_verbose_json_has_segments_and_monotonic_words(client: openai.AsyncOpenAI) -> None:
    result = await client.audio.transcriptions.create(
        model="whisper-1",
        file=("c.wav", CLIP),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "english" and 40 < result.duration < 50
    assert result.segments and result.words
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in result.words)
    assert result.segments[-1].end <= result.duration + 1


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
async def test_subtitles(client: openai.AsyncOpenAI, fmt: str) -> None:
    body = str(await client.audio.transcriptions.create(model="whisper-1", file=("c.wav", CLIP), response_format=fmt))
    if fmt == "vtt":
        assert body.startswith("WEBVTT\n\n") and "00:00:00.000 --> " in body
    else:
        assert body.startswith("1\n00:00:00,000 --> ")
    assert "best of times" in body


async def test_streaming_sends_deltas_then_done(local: httpx.AsyncClient) -> None:
    files = {"file": ("c.wav", CLIP, "audio/wav")}
    async with local.stream(
        "POST", "/v1/audio/transcriptions", files=files, data={"model": "whisper-1", "stream": "true"}
    ) as response:
        assert response.status_code == 200
        events = [orjson.loads(line[6:]) async for line in response.aiter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "transcript.text.done" and set(kinds[:-1]) == {"transcript.text.delta"} and len(kinds) > 2
    assert "".join(e["delta"] for e in events[:-1]).strip() == events[-1]["text"]
    assert wer(TWO_CITIES, events[-1]["text"]) < 0.1 and events[-1]["usage"]["type"] == "duration"


async def test_translation_needs_the_multilingual_model(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="English-only"):
        await client.audio.translations.create(model="whisper-1", file=("c.wav", CLIP))
    beckett = (CLIPS / "beckett.wav").read_bytes()
    result = await client.audio.translations.create(model="whisper-base", file=("b.wav", beckett))
    assert wer("Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.", result.text) < 0.3


async def test_bad_uploads_are_clear_and_leave_nothing(local: httpx.AsyncClient) -> None:
    form = {"model": "whisper-1"}
    cases = [
        ({"file": ("x.wav", b"RIFF not really audio", "audio/wav")}, form, 400, "file"),
        ({"file": ("x.wav", b"", "audio/wav")}, form, 400, "file"),
        ({"file": ("x.wav", CLIP, "audio/wav")}, {"model": "whisper-1", "response_format": "docx"}, 400, None),
        ({"file": ("x.wav", CLIP, "audio/wav")}, {"model": "tts-1"}, 400, "model"),
        (
            {"file": ("x.wav", CLIP, "audio/wav")},
            {"model": "whisper-1", "timestamp_granularities[]": "word"},
            400,
            None,
        ),
    ]
    for files, data, status, param in cases:
        response = await local.post("/v1/audio/transcriptions", files=files, data=data)
        assert response.status_code == status, (data, response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        if param:
            assert error["param"] == param, response.text
    # JSON where a form is expected
    response = await local.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "file"
    too_big = {"file": ("big.wav", b"\0" * (25 * 1024 * 1024 + 1), "audio/wav")}
    response = await local.post("/v1/audio/transcriptions", files=too_big, data=form)
    assert response.status_code == 413, response.text


async def test_request_faults_are_400s_and_leave_the_engine_healthy(local: httpx.AsyncClient) -> None:
    files = {"file": ("c.wav", (CLIPS / "beckett.wav").read_bytes(), "audio/wav")}
    for _ in range(6):  # more than the breaker's threshold: none of these is the engine's failure
        response = await local.post(
            "/v1/audio/transcriptions", files=files, data={"model": "whisper-base", "language": "zz"}
        )
        assert response.status_code == 400 and response.json()["error"]["param"] == "language", response.text
    shouted = await local.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1", "language": "EN"})
    assert shouted.status_code == 200, shouted.text
    health = (await local.get("/health")).json()["providers"]
    assert health["local-whisper-base"]["state"] == "closed" and health["local-whisper"]["state"] == "closed"
