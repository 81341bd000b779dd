"""The local ``diffusers`` adapter on a pipeline the operator supplies (here: a tiny random one built by the
test), through OpenAI's own client; and with no image model configured, the endpoint says so."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import openai
import pytest
from PIL import Image

from tests.conftest import make_settings
from tests.media import tiny_diffusion
from tests.media.conftest import serving

pytestmark = pytest.mark.slow


async def test_an_operators_pipeline_makes_billed_pngs(tmp_path: Path) -> None:
    pipeline = tiny_diffusion.build(tmp_path / "sd")
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        local={"enabled": False, "threads": 2},
        providers=[{"name": "sd", "kind": "diffusers", "model_path": str(pipeline), "models": ["tiny-sd"]}],
        models=[{"id": "tiny-sd", "task": "image", "image_price": 5_000, "sizes": ["64x64"]}],
    )
    async with serving(settings) as app:
        _, key = await app.new_user(credit=100_000)
        client = openai.AsyncOpenAI(api_key=key, base_url="http://cluster/v1", http_client=app.http, max_retries=0)
        result = await client.images.generate(
            model="tiny-sd",
            prompt="a red fox",
            n=2,
            size="64x64",
            response_format="b64_json",
            extra_body={"num_inference_steps": 2, "seed": 7},
        )
        images = [Image.open(io.BytesIO(base64.b64decode(d.b64_json or ""))) for d in result.data]
        assert [(i.format, i.size) for i in images] == [("PNG", (64, 64))] * 2
        again = await client.images.generate(
            model="tiny-sd",
            prompt="a red fox",
            n=2,
            size="64x64",
            response_format="b64_json",
            extra_body={"num_inference_steps": 2, "seed": 7},
        )
        assert [d.b64_json for d in again.data] == [d.b64_json for d in result.data], "seeded: the same images"
        balance = (await app.http.get("/v1/balance", headers=app.auth(key))).json()["available"]
        assert balance == 100_000 - 4 * 5_000
        odd = await app.http.post(
            "/v1/images/generations", json={"model": "tiny-sd", "prompt": "p", "size": "65x64"}, headers=app.auth(key)
        )
        assert odd.status_code == 400 and odd.json()["error"]["param"] == "size"
        card = (await app.http.get("/v1/models/tiny-sd", headers=app.auth(key))).json()
        assert card["task"] == "image" and card["pricing"]["image"] == 5_000 and card["sizes"] == ["64x64"]


async def test_without_an_image_model_the_endpoint_says_so(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, auth={"required": True})) as app:
        _, key = await app.new_user(credit=1_000)
        models = (await app.http.get("/v1/models", headers=app.auth(key))).json()["data"]
        assert not [m for m in models if m["task"] == "image"]
        response = await app.http.post(
            "/v1/images/generations", json={"model": "dall-e-3", "prompt": "p"}, headers=app.auth(key)
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
