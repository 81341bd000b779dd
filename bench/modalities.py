"""Each bundled modality engine called directly vs. through the gateway, in one run: real-time factor for speech
and transcription (seconds of compute per second of audio: lower is faster), passages per second for rerank.
The gateway path is a real server on loopback (HTTP, auth, billing, request log); the direct path is the same
engine class in this process. Printed: both figures and the gateway's share of the engine's speed.

    .venv/bin/python bench/modalities.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
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
ROUNDS = 3
THREADS = 2


def best(run: Callable[[], float]) -> float:
    return min(run() for _ in range(ROUNDS))


async def main() -> None:
    clip_path = assets.package_dir("moonshine_voice") / "assets" / "two_cities.wav"
    clip = clip_path.read_bytes()
    decoded = decode(clip, max_seconds=600)
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
        app = create_app(settings)
        with ServerThread(app) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=300) as http:
                rows = [
                    await _speech(speech, http),
                    await _transcription(whisper, http, clip, decoded.seconds),
                    await _rerank(reranker, http),
                ]
    await speech.aclose()
    await whisper.aclose()
    await reranker.aclose()
    print(f"{'engine':38} {'direct':>14} {'gateway':>14} {'gateway / engine speed':>24}")
    for name, unit, direct, gateway, faster_is_lower in rows:
        share = direct / gateway if faster_is_lower else gateway / direct
        print(f"{name:38} {direct:>10.3f} {unit:<3} {gateway:>10.3f} {unit:<3} {share:>23.1%}")


async def _speech(speech: PiperSpeech, http: httpx.AsyncClient) -> tuple[str, str, float, float, bool]:
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm"}
    (await http.post("/v1/audio/speech", json=body)).raise_for_status()  # load

    def direct() -> float:
        started, samples = time.perf_counter(), 0
        speech._load()
        for _, phonemes in sentences(TEXT):
            samples += speech.synthesize(phonemes).size
        return (time.perf_counter() - started) / (samples / 22_050)

    direct()  # load
    engine = best(direct)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        audio = (await http.post("/v1/audio/speech", json=body)).content
        timings.append((time.perf_counter() - started) / (len(audio) / 2 / 24_000))
    return "speech (Piper-format VITS, pcm)", "RTF", engine, min(timings), True


async def _transcription(
    whisper: WhisperTranscriber, http: httpx.AsyncClient, clip: bytes, seconds: float
) -> tuple[str, str, float, float, bool]:
    upload = AudioUpload(clip, "c.wav", "audio/wav", decode(clip, max_seconds=600))
    request = TranscriptionRequest(model="whisper-1")

    async def direct() -> float:
        started = time.perf_counter()
        await whisper.transcribe(request, upload, "whisper-1", Call())
        return (time.perf_counter() - started) / seconds

    await direct()  # load
    engine = min([await direct() for _ in range(ROUNDS)])
    files = {"file": ("c.wav", clip, "audio/wav")}
    (await http.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})).raise_for_status()
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = await http.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})
        response.raise_for_status()
        timings.append((time.perf_counter() - started) / seconds)
    return "transcription (Whisper tiny.en, 44 s clip)", "RTF", engine, min(timings), True


async def _rerank(reranker: EmbeddingReranker, http: httpx.AsyncClient) -> tuple[str, str, float, float, bool]:
    counter = iter(range(10**9))

    def passages() -> list[str]:  # fresh texts every call: the passage cache must not flatter either side
        n = next(counter)
        return [f"Passage {n}-{i}: the keeper logged ship {i} passing the light at dawn." for i in range(64)]

    def direct() -> float:
        texts = passages()
        started = time.perf_counter()
        reranker._scores(["which ship passed at dawn"], texts)
        return len(texts) / (time.perf_counter() - started)

    direct()  # load
    engine = max(direct() for _ in range(ROUNDS))
    rates = []
    for _ in range(ROUNDS + 1):
        texts = passages()
        body = {"model": "rerank-e5", "query": "which ship passed at dawn", "documents": texts}
        started = time.perf_counter()
        (await http.post("/v1/rerank", json=body)).raise_for_status()
        rates.append(len(texts) / (time.perf_counter() - started))
    return "rerank (e5-small bi-encoder, 64 passages)", "p/s", engine, max(rates[1:]), False


if __name__ == "__main__":
    asyncio.run(main())
