"""Text to speech with a Piper-format VITS voice (the bundled en_US "joe"), run on onnxruntime by this module.

Why not the ``piper-tts`` package: it is GPL-3.0 (it links espeak-ng, GPL too), which cannot enter the product.
The voice itself is MIT. Piper voices take espeak-style IPA; ``gruut`` (MIT, with its MIT English lexicon and
g2p model) produces IPA close enough that Whisper transcribes the result word for word (the round-trip test);
its break marks become the punctuation Piper's symbol table knows. Numbers, dates and abbreviations are spoken
out by gruut (through ``num2words``, LGPL-2.1, imported unmodified).

The text is spoken a sentence at a time: each sentence's audio is encoded and sent as soon as it exists, so the
first audio arrives long before a long input is done. Every OpenAI voice name maps to the one voice there is
(listed in ``/v1/models`` and the docs); ``instructions`` (gpt-4o-mini-tts's style prompt) cannot steer this voice
and is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cluster.errors import InvalidRequest
from cluster.media.audio import Encoder
from cluster.metering import Usage
from cluster.providers.base import Call, Capability
from cluster.providers.local import assets
from cluster.providers.local.worker import ModelThread, ThreadStream
from cluster.wire.audio import SpeechRequest

#: OpenAI's voice names (all spoken by the one bundled voice) and the voice's own name
VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
    "joe",
)  # fmt: skip
_BREAKS = {"‖": ".", "|": ","}  # gruut's major and minor breaks, as the punctuation the voice was trained on
_BOS, _EOS, _PAD = "^", "$", "_"


class PiperSpeech:
    capabilities = frozenset({Capability.SPEECH})
    tee = False

    def __init__(self, name: str, model_path: Path, config_path: Path, *, threads: int | None, bundled: bool) -> None:
        self.name = name
        self._model_path = model_path
        self._config_path = config_path
        self._threads = threads
        self._bundled = bundled
        self._thread = ModelThread(name)
        self._session: Any = None
        self._config: dict[str, Any] = {}

    async def speak(self, request: SpeechRequest, upstream_model: str, call: Call) -> ThreadStream:
        if request.voice.lower() not in VOICES:
            raise InvalidRequest(
                f"unknown voice '{request.voice}': this model speaks {', '.join(VOICES)} (all one voice, 'joe')",
                param="voice",
                code="invalid_value",
            )
        return self._thread.stream(lambda stream: self._produce(stream, request))

    async def aclose(self) -> None:
        self._thread.shutdown()

    def _produce(self, stream: ThreadStream, request: SpeechRequest) -> None:
        self._load()
        rate = int(self._config["audio"]["sample_rate"])
        encoder = Encoder(request.response_format, rate)
        usage = stream.usage = Usage()
        spoken = 0
        for text, phonemes in sentences(request.input):
            if stream.stopped:
                return
            audio = self.synthesize(phonemes, speed=request.speed)
            spoken += 1
            usage.characters += len(text)
            chunk = encoder.feed(audio)
            if chunk:
                stream.put(chunk)
        if not spoken:  # the request's fault (only spaces, emoji, symbols): a 400, not a provider failure
            raise InvalidRequest("input has nothing this voice can speak", param="input", code="invalid_value")
        usage.characters = len(request.input)  # what was asked is what was spoken (whitespace too)
        tail = encoder.finish()
        if tail:
            stream.put(tail)

    def synthesize(self, phonemes: str, *, speed: float = 1.0) -> np.ndarray:
        """One sentence's IPA as float audio at the voice's rate."""
        ids = self._ids(phonemes)
        inference = self._config.get("inference", {})
        scales = np.array(
            [
                inference.get("noise_scale", 0.667),
                inference.get("length_scale", 1.0) / speed,
                inference.get("noise_w", 0.8),
            ],
            dtype=np.float32,
        )
        tokens = np.array([ids], dtype=np.int64)
        audio = self._session.run(
            None, {"input": tokens, "input_lengths": np.array([tokens.shape[1]], dtype=np.int64), "scales": scales}
        )[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def _ids(self, phonemes: str) -> list[int]:
        """Piper's framing: BOS, then every symbol followed by the pad symbol, then EOS; unknown symbols (a tie
        bar, a stress mark the voice never saw) are left out."""
        table: dict[str, list[int]] = self._config["phoneme_id_map"]
        ids = [*table[_BOS], *table[_PAD]]
        for symbol in phonemes:
            if symbol in table:
                ids += [*table[symbol], *table[_PAD]]
        return [*ids, *table[_EOS]]

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort

        if self._bundled:
            assets.verified(self._model_path, "joe")
            assets.verified(self._config_path, "joe-config")
        self._config = json.loads(self._config_path.read_text())
        options = ort.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self._model_path), options, providers=["CPUExecutionProvider"])


def sentences(text: str) -> Iterator[tuple[str, str]]:
    """``text`` split into sentences, each with its IPA (words separated by spaces, breaks as punctuation)."""
    from gruut import sentences as gruut_sentences

    for sentence in gruut_sentences(text, lang="en-us"):
        spoken = ""
        for word in sentence:
            if word.phonemes:
                for phoneme in word.phonemes:
                    spoken += _BREAKS.get(phoneme, phoneme)
                spoken += " "
            elif word.is_punctuation and word.text in ",.;:!?":
                spoken = spoken.rstrip() + word.text + " "
        spoken = spoken.replace(" ,", ",").replace(" .", ".").strip()
        if spoken:
            yield sentence.text, spoken
