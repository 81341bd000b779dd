"""`cluster datasets upload` (with its progress bar), `list` and `cluster earnings` against a running server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from cluster.app import create_app
from cluster.chain.devchain import dev_address
from cluster.cli import app
from tests.chain_fixtures import Chain
from tests.marketplace.conftest import market_settings
from tests.marketplace.test_datasets import ROWS
from tests.support import ServerThread, bootstrap_admin


async def test_upload_from_the_command_line(tmp_path: Path, chain: Chain) -> None:
    settings = market_settings(tmp_path, chain)
    _, admin_key = await bootstrap_admin(settings)
    source = tmp_path / "stations.jsonl"
    source.write_bytes(ROWS)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env={"CLUSTER_URL": server.url, "CLUSTER_API_KEY": admin_key})
        assert result.exit_code == 0, result.output
        return result.output

    with ServerThread(create_app(settings)) as server:
        upload = [
            "datasets", "upload", str(source), "--name", "Stations", "--slug", "cli-stations", "--price", "1.25",
            "--category", "other", "--wallet", dev_address(2),
        ]  # fmt: skip
        out = await asyncio.to_thread(run, *upload)
        dataset = json.loads(out[out.index("{") :])
        assert dataset["price"] == 1_250_000 and dataset["token_id"] and dataset["size"] == len(ROWS)
        assert "cli-stations" in await asyncio.to_thread(run, "datasets", "list")
        async with httpx.AsyncClient(base_url=server.url) as http:
            listed = (await http.get("/v1/datasets/cli-stations")).json()
        assert listed["sha256"] == dataset["sha256"]
        earnings = json.loads(await asyncio.to_thread(run, "earnings"))
        assert earnings["datasets"] == []
