"""A property-based fuzz of the whole OpenAPI spec (schemathesis), on the embedded defaults with the chain and a
mock upstream, as an admin: every operation, bounded examples (about two minutes). Checked: no 5xx, every error
OpenAI-shaped (tests/fuzz/hooks.py), status codes, content types and bodies as the spec states them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from cluster.app import create_app
from cluster.chain.devchain import dev_key
from tests.chain_fixtures import Chain
from tests.conftest import make_settings, mock_provider
from tests.support import ROOT, MockUpstream, ServerThread, bootstrap_admin

pytestmark = pytest.mark.slow
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def test_every_operation_answers_within_its_spec(
    tmp_path: Path, chain: Chain, mock_upstream: MockUpstream
) -> None:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        chain=chain.settings(),
        local={"enabled": False},
        finetune={"run_jobs": False},  # jobs are created and listed, not trained: that is other tests' work
        agents={"operator_key": dev_key(9)},  # agents are registered on the chain too
        providers=[mock_provider("up", mock_upstream)],
        models=[{"id": "mock-model", "input_price": 1_000, "output_price": 1_000}],
    )
    _, key = await bootstrap_admin(settings, credit=10**12)
    with ServerThread(create_app(settings)) as server:
        command = [
            str(Path(sys.executable).parent / "st"), "run", f"{server.url}/openapi.json",
            "-H", f"Authorization: Bearer {key}",
            "-c", f"{CHECKS},openai_error_shape",
            "--max-examples", "5", "--max-time", "100", "--workers", "1", "--continue-on-failure",
        ]  # fmt: skip
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(  # its cache (.schemathesis/) stays in the test's folder
            *command, env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert " generated, " in report and " passed" in report
