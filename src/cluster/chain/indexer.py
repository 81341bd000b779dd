"""Follow Cluster's contract events into the database: confirmed, idempotent, resumable, re-org aware.

Each pass reads logs of our contracts (DatasetNFT ``Transfer``, registry events, ``Purchased``,
``Deposited``) from the block after the cursor up to ``head - confirmations``, in ranges of at most
``max_block_range``. Every decoded event, its projections (deposits, purchases) and the new cursor are written
in one transaction, and rows are unique by (chain, tx hash, log index), so a pass interrupted anywhere is simply
read again. Deposits are credited after that commit (see ``deposits.py``: exactly once by idempotency key).

Re-orgs: the cursor keeps the hash of the last block read. If the chain no longer has that block, the indexer
steps back ``rewind_depth`` blocks, forgets what it read there, and reads it again; a deposit that was already
credited and does not come back is reversed once the indexer has passed its old height.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from web3.contract import AsyncContract

from cluster.chain.artifacts import event_topics
from cluster.chain.client import ChainClient, guard
from cluster.chain.deposits import DepositBook
from cluster.chain.models import ChainCursor, ChainDeposit, ChainEvent, ChainPurchase, DepositRef
from cluster.db.engine import insert_ignore
from cluster.metering.metrics import gauge
from cluster.settings import ContractAddresses

log = logging.getLogger(__name__)

INDEXED = (
    ("dataset_nft", "DatasetNFT"),
    ("dataset_registry", "DatasetRegistry"),
    ("payment_router", "PaymentRouter"),
    ("deposits", "Deposits"),
)
_JS_SAFE = 2**53


class Indexer:
    def __init__(
        self,
        engine: AsyncEngine,
        client: ChainClient,
        addresses: ContractAddresses,
        deposits: DepositBook,
        *,
        confirmations: int,
        max_block_range: int = 2000,
        rewind_depth: int = 64,
    ) -> None:
        self._engine = engine
        self._client = client
        self._deposits = deposits
        self.confirmations = confirmations
        self._max_range = max_block_range
        self._rewind_depth = rewind_depth
        self._start_block = addresses.start_block
        self.cursor_name = f"events:{client.chain_id}"
        self._contracts: dict[str, AsyncContract] = {}
        for field, artifact in INDEXED:
            address = getattr(addresses, field)
            if address:
                contract = client.contract(artifact, address)
                self._contracts[contract.address.lower()] = contract
        #: (block indexed, chain head, when) at the end of the last pass, for the lag gauges
        self.progress: tuple[int, int, float] | None = None
        self._topics = {
            (address, topic): event["name"]
            for address, contract in self._contracts.items()
            for topic, event in event_topics(contract.abi).items()
        }

    async def run_once(self) -> int:
        """Index what has been confirmed since the last pass and credit deposits; returns events stored."""
        stored = 0
        while True:
            batch = await self._step()
            stored += batch
            if batch < 0:  # rewound after a re-org: read again next pass
                break
            if not await self._behind():
                break
        await self._deposits.credit_pending()
        await self._reverse_lost_deposits()
        return max(stored, 0)

    async def cursor(self) -> tuple[int, str | None]:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(ChainCursor).where(ChainCursor.name == self.cursor_name))
            ).one_or_none()
        if row is None:
            return self._start_block - 1, None
        return row.block_number, row.block_hash or None  # '' when rewound to before the first block

    async def _safe_head(self) -> int:
        return int(await guard(self._client.w3.eth.block_number)) - self.confirmations

    async def _behind(self) -> bool:
        indexed, safe = (await self.cursor())[0], await self._safe_head()
        self.progress = (indexed, safe + self.confirmations, time.time())
        return indexed < safe

    def gauges(self) -> Iterable[Metric]:
        """How far behind the chain this process's indexer is, as of its last pass (a stale pass shows in the
        timestamp: an RPC outage stops the lag from moving, not from mattering)."""
        if self.progress is None:
            return
        indexed, head, at = self.progress
        chain = [str(self._client.chain_id)]
        yield gauge("cluster_chain_indexer_lag_blocks", "Chain head minus the last block indexed", ["chain_id"],
                    [(chain, max(0, head - indexed))])  # fmt: skip
        yield gauge("cluster_chain_indexed_block", "Last block indexed", ["chain_id"], [(chain, indexed)])
        yield gauge("cluster_chain_indexer_last_pass_timestamp_seconds", "When the indexer last read the chain head",
                    ["chain_id"], [(chain, at)])  # fmt: skip

    async def _step(self) -> int:
        last, last_hash = await self.cursor()
        if last_hash is not None and await self._block_hash(last) != last_hash:
            await self._rewind(last)
            return -1
        first, safe = last + 1, await self._safe_head()
        end = min(safe, first + self._max_range - 1)
        if first > end:
            return 0
        logs = await guard(
            self._client.w3.eth.get_logs(
                {"fromBlock": first, "toBlock": end, "address": [c.address for c in self._contracts.values()]}
            )
        )
        end_hash = await self._block_hash(end)
        events = [event for raw in logs if (event := self._decode(raw)) is not None]
        async with self._engine.begin() as connection:
            await self._store(connection, events)
            await self._advance(connection, end, end_hash)
        return len(events)

    async def _block_hash(self, number: int) -> str | None:
        block = await guard(self._client.w3.eth.get_block(number))
        return "0x" + bytes(block["hash"]).hex() if block and block.get("hash") else None

    def _decode(self, raw: Any) -> dict[str, Any] | None:
        address = str(raw["address"]).lower()
        name = self._topics.get((address, bytes(raw["topics"][0]))) if raw["topics"] else None
        if name is None:
            return None
        decoded = self._contracts[address].events[name]().process_log(raw)
        return {
            "chain_id": self._client.chain_id,
            "block_number": int(raw["blockNumber"]),
            "block_hash": "0x" + bytes(raw["blockHash"]).hex(),
            "tx_hash": "0x" + bytes(raw["transactionHash"]).hex(),
            "log_index": int(raw["logIndex"]),
            "contract": self._contracts[address].address,
            "event": name,
            "args": {key: _jsonable(value) for key, value in decoded["args"].items()},
            "raw_args": dict(decoded["args"]),
        }

    async def _store(self, connection: AsyncConnection, events: list[dict[str, Any]]) -> None:
        """A range's events and their projections, each table in one executemany."""
        if not events:
            return
        dialect = connection.dialect.name
        await connection.execute(
            insert_ignore(dialect, ChainEvent.__table__),  # type: ignore[arg-type]
            [{k: v for k, v in event.items() if k != "raw_args"} for event in events],
        )
        purchases = [_purchase(event) for event in events if event["event"] == "Purchased"]
        if purchases:
            await connection.execute(insert_ignore(dialect, ChainPurchase.__table__), purchases)  # type: ignore[arg-type]
        deposits = [event for event in events if event["event"] == "Deposited"]
        if deposits:
            await self._store_deposits(connection, deposits)

    async def _store_deposits(self, connection: AsyncConnection, events: list[dict[str, Any]]) -> None:
        chain = self._client.chain_id
        refs = {"0x" + bytes(event["raw_args"]["account"]).hex() for event in events}
        users = dict(
            (await connection.execute(select(DepositRef.ref, DepositRef.user_id).where(DepositRef.ref.in_(refs))))
            .tuples()
            .all()
        )
        # Deposits credited before a re-org that show up again: credited still, not new.
        rechecking = {
            (row.tx_hash, row.log_index)
            for row in await connection.execute(
                select(ChainDeposit.tx_hash, ChainDeposit.log_index).where(
                    ChainDeposit.chain_id == chain, ChainDeposit.status == "recheck"
                )
            )
        }
        back, new, now = [], [], datetime.now(UTC)
        for event in events:
            key = _log_key(event)
            if (key["tx_hash"], key["log_index"]) in rechecking:
                back.append({"b_tx": key["tx_hash"], "b_log": key["log_index"], "b_block": key["block_number"]})
                continue
            args = event["raw_args"]
            ref = "0x" + bytes(args["account"]).hex()
            user_id = users.get(ref)
            new.append(
                {
                    **key,
                    "ref": ref,
                    "user_id": user_id,
                    "sender": args["from"],
                    "token": args["token"],
                    "amount": str(args["amount"]),
                    "status": "pending" if user_id else "unmatched",
                    "created_at": now,
                }
            )
        if back:
            await connection.execute(
                update(ChainDeposit)
                .where(
                    ChainDeposit.chain_id == chain,
                    ChainDeposit.tx_hash == bindparam("b_tx"),
                    ChainDeposit.log_index == bindparam("b_log"),
                )
                .values(status="credited", block_number=bindparam("b_block")),
                back,
            )
        if new:
            await connection.execute(insert_ignore(connection.dialect.name, ChainDeposit.__table__), new)  # type: ignore[arg-type]

    async def _advance(self, connection: AsyncConnection, block: int, block_hash: str | None) -> None:
        values = {"block_number": block, "block_hash": block_hash or "", "updated_at": datetime.now(UTC)}
        changed = await connection.execute(
            update(ChainCursor).where(ChainCursor.name == self.cursor_name).values(**values)
        )
        if not changed.rowcount:
            await connection.execute(
                insert_ignore(connection.dialect.name, ChainCursor.__table__).values(  # type: ignore[arg-type]
                    name=self.cursor_name, **values
                )
            )

    async def _rewind(self, last: int) -> None:
        """The block at the cursor is no longer canonical: forget the last ``rewind_depth`` blocks."""
        to = max(self._start_block - 1, last - self._rewind_depth)
        log.warning("chain %s re-org below block %s: re-reading from %s", self._client.chain_id, last, to + 1)
        chain = self._client.chain_id
        async with self._engine.begin() as connection:
            for table in (ChainEvent, ChainPurchase):
                await connection.execute(delete(table).where(table.chain_id == chain, table.block_number > to))
            # Credited deposits wait to be seen again; the others are simply read again.
            await connection.execute(
                update(ChainDeposit)
                .where(ChainDeposit.chain_id == chain, ChainDeposit.block_number > to)
                .where(ChainDeposit.status == "credited")
                .values(status="recheck")
            )
            await connection.execute(
                delete(ChainDeposit).where(
                    ChainDeposit.chain_id == chain,
                    ChainDeposit.block_number > to,
                    ChainDeposit.status.in_(("pending", "unmatched", "unpriced")),
                )
            )
            await self._advance(connection, to, (await self._block_hash(to)) if to >= 0 else None)

    async def _reverse_lost_deposits(self) -> None:
        last, _ = await self.cursor()
        async with self._engine.connect() as connection:
            lost = (
                await connection.execute(
                    select(ChainDeposit.id).where(
                        ChainDeposit.chain_id == self._client.chain_id,
                        ChainDeposit.status == "recheck",
                        ChainDeposit.block_number <= last,
                    )
                )
            ).scalars()
            lost_ids = list(lost)
        for row_id in lost_ids:
            await self._deposits.reverse(row_id)


def _purchase(event: dict[str, Any]) -> dict[str, Any]:
    args = event["raw_args"]
    return {
        **_log_key(event),
        "dataset_id": args["datasetId"],
        "buyer": args["buyer"],
        "referrer": args["referrer"],
        "beneficiary": args["beneficiary"],
        "price": args["price"],
        "creator_amount": args["creatorAmount"],
        "treasury_amount": args["treasuryAmount"],
        "referrer_amount": args["referrerAmount"],
    }


def _log_key(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("chain_id", "tx_hash", "log_index", "block_number")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _JS_SAFE:
        return str(value)
    return value
