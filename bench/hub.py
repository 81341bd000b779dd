"""The Hub's pages against their JSON twins, in one run on one server: how much a rendered page (the same
service calls, plus Jinja2 and the session) costs over the API answer with the same data. Real server on
loopback, a wallet signed in with SIWE (its session as the page's cookie and as the API's bearer).

    .venv/bin/python bench/hub.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tests package

from tests.support import ServerThread

from cluster.app import create_app
from cluster.chain.devchain import dev_key
from cluster.settings import Settings
from cluster_sdk import Wallet

ROUNDS = 300


def median_ms(http: httpx.Client, path: str, **headers: str) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = http.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return statistics.median(times)


def main() -> None:
    today = datetime.now(UTC).date().isoformat()
    pairs = [
        ("/models", "/v1/models"),
        ("/keys", "/v1/keys"),
        ("/usage", f"/v1/usage?start={today}&end={today}&group_by=day,model"),
        ("/billing", "/v1/balance/history"),
    ]
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), chain={"enabled": False}, local={"enabled": False})
        with ServerThread(create_app(settings)) as server:
            token = Wallet(dev_key(3)).sign_in(server.url)
            with httpx.Client(base_url=server.url, cookies={"cluster_session": token}) as http:
                print(f"median of {ROUNDS} GETs each, one server on loopback (ms)")
                for page_path, api_path in pairs:
                    median_ms(http, page_path)  # warm: templates compiled, caches filled
                    rendered = median_ms(http, page_path)
                    twin = median_ms(http, api_path, authorization=f"Bearer {token}")
                    ratio = rendered / twin
                    print(f"{page_path:10} page {rendered:6.2f}  JSON twin {twin:6.2f}  page/JSON {ratio:4.2f}x")


if __name__ == "__main__":
    main()
