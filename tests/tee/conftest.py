"""Real attestation data (tests/tee/fixtures, MIT, see its README): a TDX quote with collateral from dcap-qvl,
and a dstack CVM's attestation with NVIDIA NRAS tokens from nearai/private-ml-sdk."""

from __future__ import annotations

import calendar
import json
import time
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def issued_at(collateral: str) -> int:
    """An hour after the collateral's TCB info was issued: dcap-qvl 0.7 refuses a TCB info "issued in the future",
    so the README's ``now=1750320802`` (two hours before that issue date) no longer verifies."""
    issue = json.loads(json.loads(collateral)["tcb_info"])["issueDate"]
    return calendar.timegm(time.strptime(issue, "%Y-%m-%dT%H:%M:%SZ")) + 3600


@pytest.fixture(scope="session")
def dcap() -> dict[str, Any]:
    quote = (FIXTURES / "dcap-qvl-tdx_quote").read_bytes()
    collateral = (FIXTURES / "dcap-qvl-tdx_quote_collateral.json").read_text()
    outdated = (FIXTURES / "dcap-qvl-tdx_quote_outdated").read_bytes()
    outdated_collateral = (FIXTURES / "dcap-qvl-tdx_quote_outdated_collateral.json").read_text()
    return {
        "quote": quote,
        "collateral": collateral,
        "now": issued_at(collateral),
        "outdated": outdated,
        "outdated_collateral": outdated_collateral,
        "outdated_now": issued_at(outdated_collateral),
    }


@pytest.fixture(scope="session")
def dstack() -> dict[str, Any]:
    sample = json.loads((FIXTURES / "private-ml-sdk-sample-dstack.json").read_text())
    info = sample["SAMPLE_DSTACK_INFO"]
    return {
        "quote": bytes.fromhex(sample["SAMPLE_DSTACK_QUOTE"]["quote"]),
        "event_log": json.loads(sample["SAMPLE_DSTACK_QUOTE"]["event_log"]),
        "app_compose": info["tcb_info"]["app_compose"],
        "compose_hash": info["compose_hash"],
        "app_id": info["app_id"],
        "mrtd": info["tcb_info"]["mrtd"],
        "nras": sample["NRAS_SAMPLE_RESPONSE"],
    }


@pytest.fixture
def enclave() -> Any:
    """The simulated enclave (the bundled model behind the confidential-provider API) on a loopback port."""
    from cluster.devservers.enclave import create_enclave_app, local_enclave
    from tests.support import ServerThread

    simulated = local_enclave()
    with ServerThread(create_enclave_app(simulated)) as server:
        simulated.url = server.url
        yield simulated
