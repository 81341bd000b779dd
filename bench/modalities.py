"""Each bundled modality engine called directly vs. through the gateway, in one run: real-time factor for speech
and transcription (seconds of compute per second of audio: lower is faster), passages per second for rerank.
The gateway path is a real server on loopback (HTTP, auth, billing, request log); the direct path is the same
engine class in this process. Printed: both figures and the gateway's share of the engine's speed.

    .venv/bin/python bench/modalities.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tests package

from tests.support import ServerThread

from cluster.app import create_app
from cluster.media.audio import decode
from cluster.providers.base import AudioUpload, Call
from cluster.providers.local import assets
from cluster.providers.local.rerank import EmbeddingReranker
from cluster.providers.local.speech import PiperSpeech, sentences
from cluster.providers.local.transcription import WhisperTranscriber
from cluster.settings import Settings
from cluster.wire.audio import TranscriptionRequest

TEXT = (
    "The lighthouse keeper wrote the weather in his ledger every morning. Ships passed in the grey light, and "
    "he counted them. When the storm came, the lamp burned all night, and nobody was lost at sea."
)
ROUNDS = 5
PAUSE = 0.5
THREADS = 2


Measure = Callable[[], Awaitable[float]]


async def paired(direct: Measure, gateway: Measure) -> tuple[float, float]:
    """Medians of alternating runs, each side warmed up first. The pause lets the engines' worker threads
    (OpenMP, CTranslate2) stop spinning, so that one side's leftover spin does not slow the other's run."""
    await direct()
    await gateway()
    engine, served = [], []
    for _ in range(ROUNDS):
        await asyncio.sleep(PAUSE)
        engine.append(await direct())
        await asyncio.sleep(PAUSE)
        served.append(await gateway())
    return statistics.median(engine), statistics.median(served)


async def main() -> None:
    clip = (assets.package_dir("moonshine_voice") / "assets" / "two_cities.wav").read_bytes()
    voice, voice_config = assets.joe_voice()
    speech = PiperSpeech("bench-speech", voice, voice_config, threads=THREADS, bundled=True)
    whisper = WhisperTranscriber(
        "bench-whisper", assets.whisper_tiny_en, multilingual=False, threads=THREADS, pinned="whisper-tiny.en"
    )
    reranker = EmbeddingReranker("bench-rerank", assets.e5_small(), threads=THREADS, bundled=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), auth={"required": False}, limits={"ip_rpm": None}, local={"threads": THREADS}
        )  # type: ignore[arg-type]
        with ServerThread(create_app(settings)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=300) as http:
                rows = [
                    ("speech (Piper-format VITS, pcm)", "RTF", True, *await _speech(speech, http)),
                    ("transcription (Whisper tiny.en, 44 s)", "RTF", True, *await _transcription(whisper, http, clip)),
                    ("rerank (e5-small bi-encoder, 64 docs)", "p/s", False, *await _rerank(reranker, http)),
                ]
    for engine in (speech, whisper, reranker):
        await engine.aclose()
    print(f"medians of {ROUNDS} alternating runs, {THREADS} engine threads")
    print(f"{'engine':38} {'direct':>14} {'gateway':>14} {'gateway / engine speed':>24}")
    for name, unit, lower_is_faster, direct, gateway in rows:
        share = direct / gateway if lower_is_faster else gateway / direct
        print(f"{name:38} {direct:>10.3f} {unit:<3} {gateway:>10.3f} {unit:<3} {share:>23.1%}")


async def _speech(speech: PiperSpeech, http: httpx.AsyncClient) -> tuple[float, float]:
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm"}

    async def direct() -> float:
        started, samples = time.perf_counter(), 0
        speech._load()
        for _, phonemes in sentences(TEXT):
            samples += speech.synthesize(phonemes).size
        return (time.perf_counter() - started) / (samples / 22_050)

    async def gateway() -> float:
        started = time.perf_counter()
        audio = (await http.post("/v1/audio/speech", json=body)).content
        return (time.perf_counter() - started) / (len(audio) / 2 / 24_000)

    return await paired(direct, gateway)


async def _transcription(whisper: WhisperTranscriber, http: httpx.AsyncClient, clip: bytes) -> tuple[float, float]:
    upload = AudioUpload(clip, "c.wav", "audio/wav", decode(clip, max_seconds=600))
    request = TranscriptionRequest(model="whisper-1")
    files = {"file": ("c.wav", clip, "audio/wav")}

    async def direct() -> float:  # the engine on already decoded audio, as the gateway hands it over
        started = time.perf_counter()
        await whisper.transcribe(request, upload, "whisper-1", Call())
        return (time.perf_counter() - started) / upload.decoded.seconds

    async def gateway() -> float:  # upload, decoding, pricing, the engine, the answer
        started = time.perf_counter()
        response = await http.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})
        response.raise_for_status()
        return (time.perf_counter() - started) / upload.decoded.seconds

    return await paired(direct, gateway)


async def _rerank(reranker: EmbeddingReranker, http: httpx.AsyncClient) -> tuple[float, float]:
    counter = iter(range(10**9))

    def passages() -> list[str]:  # fresh texts every call: the passage cache must not flatter either side
        n = next(counter)
        return [f"Passage {n}-{i}: the keeper logged ship {i} passing the light at dawn." for i in range(64)]

    async def direct() -> float:
        texts = passages()
        started = time.perf_counter()
        reranker._scores(["which ship passed at dawn"], texts)
        return len(texts) / (time.perf_counter() - started)

    async def gateway() -> float:
        texts = passages()
        body = {"model": "rerank-e5", "query": "which ship passed at dawn", "documents": texts}
        started = time.perf_counter()
        (await http.post("/v1/rerank", json=body)).raise_for_status()
        return len(texts) / (time.perf_counter() - started)

    return await paired(direct, gateway)


if __name__ == "__main__":
    asyncio.run(main())
