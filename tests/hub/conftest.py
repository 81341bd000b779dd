"""The Hub in a real browser: the service on a loopback port (uvicorn in a thread, the session's anvil, the
bundled models, the simulated enclave as a confidential provider), Debian's chromium driven by Playwright
(``executable_path``: Playwright's own browser download cannot work offline), and a test wallet: an EIP-1193
provider injected into each page whose keys stay in Python (``expose_function``): ``personal_sign`` is signed by
``eth_account``, transactions are signed here and sent to anvil."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from cluster.app import create_app
from cluster.chain.devchain import dev_address, dev_key
from tests.chain_fixtures import Chain, Node
from tests.conftest import make_settings
from tests.support import ROOT, ServerThread, bootstrap_admin

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: as root Chromium needs --no-sandbox; the rest keep it off the (closed) network and its GPU
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = ROOT / "build" / "hub-screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PRIVATE_MODEL = "private-smollm"
T = TypeVar("T")

WALLET_JS = """
(() => {
  const provider = {
    isClusterTestWallet: true,
    request: async ({ method, params }) => {
      const answer = JSON.parse(await window.__wallet(method, JSON.stringify(params || [])));
      if (answer.error) { const error = new Error(answer.error.message); error.code = answer.error.code; throw error; }
      return answer.result;
    },
    on: () => {},
    removeListener: () => {},
  };
  window.ethereum = provider;
  const info = { uuid: "0b6a3c1e-2f4d-4d3a-9a57-6e1f0f6c2a11", name: "Cluster test wallet",
    rdns: "dev.cluster.testwallet", icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" };
  const detail = Object.freeze({ info, provider });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Sync Playwright keeps an event loop running in the test's thread: async set-up runs in a thread of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def rpc(url: str, method: str, *params: Any) -> Any:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["result"]


@dataclass
class Wallet:
    """A dev account as a browser wallet: signs in Python, sends to anvil."""

    account: int
    rpc_url: str
    chain_id: int
    signer: int | None = None  # sign messages with another account's key (a wrong signer)
    sent: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return dev_address(self.account)

    def handle(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        try:
            return json.dumps({"result": self._answer(method, params)})
        except Exception as error:  # the page sees a wallet error, as with a real wallet
            return json.dumps({"error": {"code": 4001, "message": str(error)}})

    def _answer(self, method: str, params: list[Any]) -> Any:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.address]
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "personal_sign":
            text = params[0]
            message = encode_defunct(hexstr=text) if text.startswith("0x") else encode_defunct(text=text)
            key = dev_key(self.signer if self.signer is not None else self.account)
            return "0x" + bytes(Account.sign_message(message, key).signature).hex()
        if method == "eth_sendTransaction":
            return self._send(params[0])
        return rpc(self.rpc_url, method, *params)

    def _send(self, tx: dict[str, Any]) -> str:
        base = {"from": self.address, "to": tx["to"], "data": tx.get("data", "0x"), "value": tx.get("value", "0x0")}
        gas = int(rpc(self.rpc_url, "eth_estimateGas", base), 16)
        price = int(rpc(self.rpc_url, "eth_gasPrice"), 16)
        signed = Account.sign_transaction(
            {
                "to": tx["to"],
                "data": base["data"],
                "value": int(base["value"], 16),
                "gas": gas * 2,
                "maxFeePerGas": price * 2,
                "maxPriorityFeePerGas": price,
                "nonce": int(rpc(self.rpc_url, "eth_getTransactionCount", self.address, "pending"), 16),
                "chainId": self.chain_id,
                "type": 2,
            },
            dev_key(self.account),
        )
        tx_hash = rpc(self.rpc_url, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
        self.sent.append(tx_hash)
        return str(tx_hash)


@dataclass
class Hub:
    url: str
    app: Any
    admin_id: str
    admin_key: str
    node: Node
    browser: Browser

    @property
    def services(self) -> Any:
        return self.app.state.services

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {key or self.admin_key}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def wallet(self, account: int, **extra: Any) -> Wallet:
        return Wallet(account, self.node.url, self.node.deployment.chain_id, **extra)

    def context(self, wallet: Wallet | None = None) -> BrowserContext:
        """A fresh browser profile (its own cookies), UTC and en-US so dates and numbers read the same anywhere."""
        context = self.browser.new_context(base_url=self.url, timezone_id="UTC", locale="en-US", accept_downloads=True)
        if wallet is not None:
            context.expose_function("__wallet", wallet.handle)
            context.add_init_script(WALLET_JS)
        context.set_default_timeout(30_000)
        return context

    def credit(self, page: Page, amount: int) -> str:
        """Credit the account signed in on ``page`` (as the admin, through the API); returns its user id."""
        user_id = str(page.request.get("/v1/users/me").json()["id"])  # the session is accepted by the API too
        body = {"user_id": user_id, "amount": amount, "idempotency_key": f"hub-{user_id}-{amount}"}
        credited = self.api("POST", "/v1/admin/credit", json=body)
        assert credited.status_code == 200, credited.text
        return user_id

    def mail(self) -> list[Any]:
        return list(self.services.signin.mailer.sent)

    def wallet_sign_in(self, page: Page) -> None:
        page.goto("/login")
        page.get_by_role("button", name="Sign in with a wallet").click()
        page.wait_for_url("**/dashboard")

    def email_sign_in(self, page: Page, email: str) -> str:
        """Ask for a link on the page, open it from the mail, confirm; returns the link."""
        before = len(self.mail())
        page.goto("/login")
        page.get_by_label("Email address").fill(email)
        page.get_by_role("button", name="Email me a sign-in link").click()
        page.get_by_text("A sign-in link is on its way").wait_for()
        mail = self.mail()[before:]
        assert [m.recipient for m in mail] == [email.lower()]
        link = next(line for line in mail[0].body.splitlines() if line.startswith("http"))
        page.goto(link)  # a page with one button: opening the link alone spends nothing (mail scanners open links)
        page.get_by_role("button", name=re.compile("^Continue")).click()
        page.wait_for_url("**/dashboard")
        return link


def reload_until(page: Page, path: str, selector: str, text: str, within: float = 15.0) -> None:
    """Open ``path`` until ``selector`` reads ``text`` (what a user does while the usage log catches up)."""
    deadline = time.monotonic() + within
    while True:
        page.goto(path)
        if page.locator(selector).inner_text().strip() == text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    expect(page.locator(selector)).to_have_text(text)


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artifact (build/hub-screenshots, git-ignored)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core (npm) run in the page: violations whose impact is serious or critical."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    found = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
    return found


def painted(page: Page, canvas: str) -> int:
    """Pixels of a canvas that are not transparent: a chart that drew something."""
    return int(
        page.evaluate(
            """(selector) => { const c = document.querySelector(selector);
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
            canvas,
        )
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, anvil: Node, browser: Browser) -> Iterator[Hub]:
    """One service for the module's flows, on the session chain inside a snapshot (rolled back after)."""
    from cluster.devservers.enclave import create_enclave_app, local_enclave

    snapshot = rpc(anvil.url, "evm_snapshot")
    data = tmp_path_factory.mktemp("hub")
    simulated = local_enclave()
    with ServerThread(create_enclave_app(simulated)) as enclave:
        simulated.url = enclave.url
        run_async(_allow_build(anvil, simulated.compose_hash))
        settings = make_settings(
            data,
            auth={"required": True},
            chain=Chain(anvil).settings(),
            hub={"mailer": "memory", "login_rpm": 1000},
            finetune={"poll_interval": 0.2},
            providers=[
                {"name": "enclave", "base_url": f"{enclave.url}/v1", "tee": True, "allow_simulated": True,
                 "models": {PRIVATE_MODEL: "smollm2-135m-instruct"}},
            ],
            models=[{"id": PRIVATE_MODEL, "tee": True, "input_price": 1_000_000, "output_price": 2_000_000}],
        )  # fmt: skip
        admin_id, admin_key = run_async(bootstrap_admin(settings))
        app = create_app(settings)
        with ServerThread(app) as server:
            yield Hub(server.url, app, admin_id, admin_key, anvil, browser)
    assert rpc(anvil.url, "evm_revert", snapshot)


async def _allow_build(anvil: Node, compose_hash: bytes) -> None:
    chain = Chain(anvil)
    try:
        registry = (await chain.contracts(0)).compose_registry
        assert registry is not None
        await registry.add(compose_hash)
    finally:
        await chain.close()
