"""The embedded dev chain: anvil on 127.0.0.1 whose state persists in the data dir.

anvil ships as a binary inside the npm package ``@foundry-rs/anvil`` (installed by ``make install``). Its state
is loaded from and dumped to ``<data_dir>/chain/anvil-state.json`` (every ``state_interval`` seconds and on a
clean exit), so a purchase made yesterday is still there today. The first start deploys the contracts and funds
the dev accounts with TestUSDC; ``deployment.json`` records where they went. Several processes (workers, tests)
may start it at once: a file lock elects one to spawn and deploy, the others use what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from eth_account import Account

from cluster.chain.client import ChainClient
from cluster.chain.deployment import Deployment, deploy_all
from cluster.settings import DevChainSettings

# anvil's default accounts (mnemonic "test test … junk"): public knowledge, for dev chains only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNTS = 10
DEPLOYER_INDEX, TREASURY_INDEX = 0, 1

Account.enable_unaudited_hdwallet_features()


def dev_key(index: int) -> str:
    account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(account.key).hex()


def dev_address(index: int) -> str:
    return str(Account.from_key(dev_key(index)).address)


def find_anvil(configured: Path | None = None) -> Path:
    if configured is not None:
        return configured
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    system = platform.system().lower()
    bundled = Path(__file__).resolve().parents[3] / "node_modules" / "@foundry-rs" / f"anvil-{system}-{machine}"
    candidate = bundled / "bin" / "anvil"
    if candidate.is_file():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "anvil not found: run `make install` (npm package @foundry-rs/anvil), or set chain.dev.anvil_path, "
        "or point chain.rpc_url at a node"
    )


class DevChain:
    def __init__(self, data_dir: Path, settings: DevChainSettings) -> None:
        self.dir = data_dir / "chain"
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self.state_file = self.dir / "anvil-state.json"
        self.deployment_file = self.dir / "deployment.json"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> Deployment:
        """Make sure the node runs and the contracts are deployed; returns where they are."""
        self.dir.mkdir(parents=True, exist_ok=True)
        async with self._locked():
            if not await self._answers():
                self._spawn()
                await self._wait_until_up()
            client = await ChainClient.connect(self.url, signer_key=dev_key(DEPLOYER_INDEX))
            try:
                deployment = Deployment.read(self.deployment_file)
                router = deployment.addresses.payment_router if deployment else None
                if (
                    deployment is None
                    or router is None
                    or deployment.addresses.compose_registry is None  # a deployment from before the registry
                    or not await client.w3.eth.get_code(client.w3.to_checksum_address(router))
                ):
                    deployment = await deploy_all(
                        client,
                        treasury=dev_address(TREASURY_INDEX),
                        fund=[dev_address(i) for i in range(DEV_ACCOUNTS)],
                        fund_amount=self.settings.fund_usdc,
                    )
                    deployment.save(self.deployment_file)
            finally:
                await client.close()
        return deployment

    def stop(self) -> None:
        """Stop the node if this process started it; SIGTERM lets anvil dump its state first."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _spawn(self) -> None:
        command = [
            str(find_anvil(self.settings.anvil_path)),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.settings.port),
            "--chain-id",
            str(self.settings.chain_id),
            "--state",
            str(self.state_file),
            "--state-interval",
            str(self.settings.state_interval),
        ]
        log = (self.dir / "anvil.log").open("ab")
        # Own session: a Ctrl-C meant for `cluster serve` must not kill the node before it saves its state.
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    async def _wait_until_up(self, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await self._answers():
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.process.returncode}; see {self.dir / 'anvil.log'}")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"anvil did not answer on {self.url} within {within} s")

    async def _answers(self) -> bool:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session,
                session.post(self.url, json=body) as response,
            ):
                return int((await response.json())["result"], 16) == self.settings.chain_id
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            return False

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        with (self.dir / "anvil.lock").open("w") as handle:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
