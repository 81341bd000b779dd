"""x402 pays the other modalities too: the official client pays a speech request and a transcription (a
multipart upload), each quoted from the request before it is served, and settled on the dev chain."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.mock_media import wav_tone
from eth_account import Account

from cluster.chain.devchain import dev_address, dev_key
from cluster.settings import ProviderConfig
from tests.chain_fixtures import Chain
from tests.conftest import make_settings
from tests.payments.conftest import PAYER, Gateway, _serve
from tests.support import MockUpstream

SPEECH = {"model": "up-tts", "voice": "alloy", "input": "Paid by the sentence.", "response_format": "wav"}


@pytest.fixture
def gateway(tmp_path: Path, chain: Chain, mock_upstream: MockUpstream) -> Iterator[Gateway]:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        local={"enabled": False},
        providers=[ProviderConfig(name="up", base_url=mock_upstream.url, models={"up-tts": "tts", "up-stt": "stt"})],
        models=[
            {"id": "up-tts", "task": "tts", "character_price": 1_000_000_000},  # 1,000 micro-USDC per character
            {"id": "up-stt", "task": "stt", "second_price": 5_000},
        ],
        chain=chain.settings(),
    )
    yield from _serve(settings, chain)


async def test_the_official_client_pays_speech_and_transcription(gateway: Gateway) -> None:
    from x402 import x402Client
    from x402.http.clients import x402HttpxClient
    from x402.mechanisms.evm.exact.register import register_exact_evm_client

    chain = gateway.chain
    async with gateway.http() as http:
        quote = await http.post("/v1/audio/speech", json=SPEECH)
    assert quote.status_code == 402
    required = json.loads(base64.b64decode(quote.headers["payment-required"]))
    assert int(required["accepts"][0]["amount"]) == 1_000 * len(SPEECH["input"])

    client = register_exact_evm_client(x402Client(), Account.from_key(dev_key(PAYER)))
    client.set_spend_controls(
        {"allowed_assets": [{"network": f"eip155:{chain.chain_id}", "asset": chain.addresses.usdc}]}
    )
    usdc = (await chain.contracts()).usdc
    before = await usdc.balance_of(dev_address(PAYER))
    async with x402HttpxClient(client, base_url=gateway.url, timeout=30) as http:
        speech = await http.post("/v1/audio/speech", json=SPEECH)
        assert speech.status_code == 200, speech.text
        assert speech.content.startswith(b"RIFF")
        clip = wav_tone(1.5)  # 2 seconds, once rounded up
        files = {"file": ("clip.wav", clip, "audio/wav")}
        transcript = await http.post("/v1/audio/transcriptions", files=files, data={"model": "up-stt"})
        assert transcript.status_code == 200, transcript.text
        assert transcript.json()["text"].startswith("mock transcript")
        receipt = json.loads(base64.b64decode(transcript.headers["payment-response"]))
        assert receipt["success"] and receipt["transaction"].startswith("0x")
    assert await usdc.balance_of(dev_address(PAYER)) == before - 1_000 * len(SPEECH["input"]) - 2 * 5_000
