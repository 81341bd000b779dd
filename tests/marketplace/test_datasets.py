"""Upload → mint → buy → download, at the four access levels, against the chain."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from cluster.chain.devchain import dev_address
from cluster.errors import TransactionReverted
from cluster.storage.blockstore import read_range
from cluster.storage.cid import CID
from tests.marketplace.conftest import Market

CREATOR, BUYER, REFERRER, STRANGER, NEW_HOLDER = 2, 3, 4, 5, 6
ROWS = b"".join(json.dumps({"station": i % 50, "t": i, "temp": 20 + i % 7}).encode() + b"\n" for i in range(40_000))
PRICE = 2_500_000


async def test_upload_mint_buy_download_and_the_access_levels(market: Market) -> None:
    creator, buyer, stranger = await market.user(CREATOR), await market.user(BUYER), await market.user(STRANGER)
    created = await market.upload(creator, ROWS)
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["access"] == "full" and dataset["stats"]["rows"] == 40_000
    assert dataset["stats"]["schema"] == {"station": "int", "t": "int", "temp": "int"}
    assert dataset["sha256"] == hashlib.sha256(ROWS).hexdigest() and dataset["size"] == len(ROWS)

    # Minted to the creator's wallet, tokenURI = the metadata's CID, which names the content's CID.
    contracts = await market.chain.contracts()
    token = dataset["token_id"]
    assert await contracts.nft.owner_of(token) == dev_address(CREATOR)
    assert await contracts.nft.token_uri(token) == f"ipfs://{dataset['metadata_cid']}" == dataset["token_uri"]
    assert await contracts.registry.price_of(token) == PRICE
    store = market.app.app.state.services.marketplace.store  # type: ignore[attr-defined]
    metadata = json.loads(b"".join(read_range(store, CID.parse(dataset["metadata_cid"]))))
    assert metadata["content"]["cid"] == dataset["content_cid"] and metadata["stats"]["rows"] == 40_000

    # Public: anyone sees the listing; preview needs a key; download needs a purchase.
    http = market.app.http
    anonymous = await http.get("/v1/datasets/weather-2026")
    assert anonymous.status_code == 200 and anonymous.json()["access"] == "public"
    assert (await http.get("/v1/datasets/weather-2026/preview")).status_code == 401
    preview = await http.get("/v1/datasets/weather-2026/preview", headers=buyer.auth())
    assert preview.status_code == 200 and preview.json()["rows"][0] == {"station": 0, "t": 0, "temp": 20}
    refused = await http.get("/v1/datasets/weather-2026/download", headers=buyer.auth())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_access"

    # The buyer's wallet buys on chain (with a referrer): the download is the exact bytes.
    treasury_before = await contracts.usdc.balance_of(market.chain.addresses.treasury)
    await market.buy(token, BUYER, PRICE, referrer=dev_address(REFERRER))
    assert await contracts.usdc.balance_of(market.chain.addresses.treasury) - treasury_before == 250_000
    assert (await http.get("/v1/datasets/weather-2026", headers=buyer.auth())).json()["access"] == "download"
    body = await http.get("/v1/datasets/weather-2026/download", headers=buyer.auth())
    assert body.status_code == 200 and hashlib.sha256(body.content).hexdigest() == dataset["sha256"]
    ranged = await http.get(
        "/v1/datasets/weather-2026/download", headers={**buyer.auth(), "range": "bytes=100000-165535"}
    )
    assert ranged.status_code == 206 and ranged.content == ROWS[100_000:165_536]
    assert ranged.headers["content-range"] == f"bytes 100000-165535/{len(ROWS)}"

    # A third wallet that did not buy: preview yes, download no, edits no.
    assert (await http.get("/v1/datasets/weather-2026/download", headers=stranger.auth())).status_code == 403
    assert (await http.get("/v1/datasets/weather-2026/preview", headers=stranger.auth())).status_code == 200
    edit = await http.patch("/v1/datasets/weather-2026", json={"description": "mine now"}, headers=stranger.auth())
    assert edit.status_code == 403


async def test_the_stored_blocks_hold_no_plaintext(market: Market, tmp_path: Path) -> None:
    creator = await market.user(CREATOR)
    assert (await market.upload(creator, ROWS)).status_code == 201
    at_rest = b"".join(p.read_bytes() for p in (tmp_path / "blocks").rglob("*") if p.is_file())
    for window in range(0, len(ROWS) - 32, 5003):
        assert ROWS[window : window + 32] not in at_rest


async def test_a_new_holder_is_paid_next_and_gets_full_access(market: Market) -> None:
    creator, holder = await market.user(CREATOR), await market.user(NEW_HOLDER)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    creator_chain = await market.chain.contracts(CREATOR)
    await creator_chain.client.transact(
        creator_chain.nft.contract.functions.transferFrom(dev_address(CREATOR), dev_address(NEW_HOLDER), token)
    )
    contracts = await market.chain.contracts()
    before = await contracts.usdc.balance_of(dev_address(NEW_HOLDER))
    await market.buy(token, BUYER, PRICE)
    assert await contracts.usdc.balance_of(dev_address(NEW_HOLDER)) - before == 2_125_000  # 85%
    http = market.app.http
    assert (await http.get("/v1/datasets/weather-2026", headers=holder.auth())).json()["access"] == "full"
    new_holder = await market.chain.contracts(NEW_HOLDER)  # lets the service republish the tokenURI
    await new_holder.client.transact(new_holder.nft.contract.functions.setApprovalForAll(dev_address(0), True))
    edit = await http.patch("/v1/datasets/weather-2026", json={"description": "now mine"}, headers=holder.auth())
    assert edit.status_code == 200 and edit.json()["description"] == "now mine"
    download = await http.get("/v1/datasets/weather-2026/download", headers=holder.auth())
    assert download.status_code == 200 and download.content == ROWS

    async def earned() -> dict:  # type: ignore[type-arg]
        return (await http.get("/v1/creators/me/earnings", headers=holder.auth())).json()

    for _ in range(100):  # the indexer records the sale
        if (report := await earned())["datasets"]:
            break
        await asyncio.sleep(0.05)
    assert report["datasets"] == [
        {
            "slug": "weather-2026",
            "token_id": token,
            "sales": 1,
            "buyers": 1,
            "received": 2_125_000,
            "royalties": 0,
            "royalties_pending": 0,
        }
    ]


async def test_a_failed_purchase_grants_nothing(market: Market) -> None:
    creator, buyer = await market.user(CREATOR), await market.user(BUYER)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    contracts = await market.chain.contracts(BUYER)
    await contracts.usdc.approve(contracts.router.address, PRICE - 1)  # not enough allowance
    with pytest.raises(TransactionReverted, match="transfer amount exceeds allowance"):
        await contracts.router.purchase(token, "0x" + "00" * 20)
    assert (await market.app.http.get("/v1/datasets/weather-2026/download", headers=buyer.auth())).status_code == 403


async def test_corrupt_files_get_a_clear_400_and_leave_nothing(market: Market, tmp_path: Path) -> None:
    creator = await market.user(CREATOR)
    cases = [
        (b'{"a": 1}\n{"a": 2\n', "bad.jsonl", "line 2 is not valid JSON"),
        (b"PAR1" + b"\x00" * 40 + b"XXXX", "bad.parquet", "Parquet"),
        (b"a,b\n1,2\n3\n", "bad.csv", "row 3 has 1 fields"),
    ]
    for content, name, message in cases:
        response = await market.upload(creator, content, filename=name)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_dataset" and message in error["message"]
    assert not any(p.is_file() for p in (tmp_path / "blocks").rglob("*"))
    assert (await market.app.http.get("/v1/datasets")).json()["total"] == 0
    taken = await market.upload(creator, ROWS)
    again = await market.upload(creator, ROWS)
    assert taken.status_code == 201 and again.status_code == 409


async def test_browse_filters_sorts_and_pages(market: Market) -> None:
    creator = await market.user(CREATOR)
    for i, (category, price) in enumerate([("nlp", 3), ("code", 1), ("nlp", 2)]):
        small = b"".join(ROWS.splitlines(keepends=True)[:20])
        response = await market.upload(creator, small, slug=f"set-{i}", name=f"Set {i}", category=category, price=price)
        assert response.status_code == 201, response.text
    http = market.app.http
    nlp = (await http.get("/v1/datasets?category=nlp&sort=price")).json()
    assert [d["slug"] for d in nlp["data"]] == ["set-2", "set-0"] and nlp["total"] == 2
    page = (await http.get("/v1/datasets?limit=2&offset=2&sort=name")).json()
    assert [d["slug"] for d in page["data"]] == ["set-2"] and not page["has_more"]
    assert (await http.get("/v1/datasets?q=set 1")).json()["total"] == 1


async def test_the_sdk_publishes_links_buys_and_downloads(market: Market, tmp_path: Path) -> None:
    from cluster.chain.devchain import dev_key
    from cluster_sdk import AsyncCluster

    creator, buyer = await market.user(), await market.user()
    source = tmp_path / "rows.jsonl"
    source.write_bytes(ROWS)
    sent: list[int] = []
    # (not `async with`: the clients share the test's transport, which must stay open)
    client = AsyncCluster("http://cluster", api_key=creator.key, http_client=market.app.http)
    await client.wallets.link(dev_key(CREATOR), creator.id)
    dataset = await client.datasets.create(
        source,
        name="Rows",
        slug="sdk-rows",
        price=PRICE,
        category="code",
        wallet=dev_address(CREATOR),
        progress=sent.append,
    )
    assert dataset.access == "full" and dataset.token_id and sent[-1] == len(ROWS)
    assert [d.slug for d in await client.datasets.list(category="code")] == ["sdk-rows"]
    client = AsyncCluster("http://cluster", api_key=buyer.key, http_client=market.app.http)
    await client.wallets.link(dev_key(BUYER), buyer.id)
    assert await client.wallets.list() == [dev_address(BUYER).lower()]
    assert len(await client.datasets.preview("sdk-rows")) == 5
    await market.buy(dataset.token_id, BUYER, PRICE)
    target = tmp_path / "bought.jsonl"
    assert await client.datasets.download("sdk-rows", target) == len(ROWS)
    assert target.read_bytes() == ROWS
    assert await client.datasets.download("sdk-rows", target, start=10, end=20) == 10
    assert target.read_bytes() == ROWS[10:20]


async def test_an_agent_buys_with_x402_and_the_split_happens_on_chain(market: Market) -> None:
    import base64

    from tests.payments.conftest import sign_payment

    creator = await market.user(CREATOR)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    http, contracts = market.app.http, await market.chain.contracts()
    quote = await http.post("/v1/datasets/weather-2026/purchase")
    assert quote.status_code == 402
    accepts = json.loads(base64.b64decode(quote.headers["payment-required"]))["accepts"][0]
    assert (int(accepts["amount"]), accepts["payTo"]) == (PRICE, dev_address(0))  # paid to the service's signer
    parties = [dev_address(CREATOR), market.chain.addresses.treasury, dev_address(REFERRER), dev_address(BUYER)]
    before = [await contracts.usdc.balance_of(p) for p in parties]
    header = sign_payment(market.chain, accepts, account=BUYER)
    bought = await http.post(
        f"/v1/datasets/weather-2026/purchase?referrer={dev_address(REFERRER)}", headers={"PAYMENT-SIGNATURE": header}
    )
    assert bought.status_code == 200, bought.text
    assert bought.json()["buyer"] == dev_address(BUYER).lower() and "payment-response" in bought.headers
    after = [await contracts.usdc.balance_of(p) for p in parties]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2_125_000, 250_000, 125_000, -PRICE]
    assert await contracts.router.has_access(dev_address(BUYER), token)
    again = await http.post("/v1/datasets/weather-2026/purchase", headers={"PAYMENT-SIGNATURE": header})
    assert again.status_code == 402 and again.json()["error"] == "invalid_exact_evm_nonce_already_used"


async def test_master_key_rotation_keeps_every_dataset_readable(market: Market) -> None:
    from cluster.marketplace.keys import rewrap_keys
    from cluster.storage.encryption import KeyWrapper, new_key

    creator = await market.user(CREATOR)
    assert (await market.upload(creator, ROWS)).status_code == 201
    services = market.app.app.state.services  # type: ignore[attr-defined]
    marketplace = services.marketplace
    fresh = new_key()
    rotated = marketplace._keys.rotated("m2", fresh)
    assert await rewrap_keys(services.engine, rotated) == 1
    assert await rewrap_keys(services.engine, rotated) == 0
    marketplace._keys = KeyWrapper({"m2": fresh}, "m2")  # the old master key is gone now
    body = await market.app.http.get("/v1/datasets/weather-2026/download", headers=creator.auth())
    assert body.status_code == 200 and body.content == ROWS


def wallet_auth(slug: str, account: int, issued: int | None = None) -> dict[str, str]:
    import time

    from eth_account import Account
    from eth_account.messages import encode_defunct

    from cluster.chain.devchain import dev_key
    from cluster.marketplace.protocol import access_message

    issued = int(time.time()) if issued is None else issued
    message = encode_defunct(text=access_message(slug, dev_address(account), issued))
    signature = "0x" + bytes(Account.sign_message(message, dev_key(account)).signature).hex()
    return {"x-wallet-auth": f"{dev_address(account)}:{issued}:{signature}"}


async def test_a_wallet_without_an_account_downloads_what_it_bought(market: Market) -> None:
    creator = await market.user(CREATOR)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    http = market.app.http
    assert (
        await http.get("/v1/datasets/weather-2026/download", headers=wallet_auth("weather-2026", BUYER))
    ).status_code == 403
    await market.buy(token, BUYER, PRICE)
    body = await http.get("/v1/datasets/weather-2026/download", headers=wallet_auth("weather-2026", BUYER))
    assert body.status_code == 200 and body.content == ROWS
    assert (
        await http.get("/v1/datasets/weather-2026/preview", headers=wallet_auth("weather-2026", STRANGER))
    ).status_code == 200
    assert (
        await http.get("/v1/datasets/weather-2026/download", headers=wallet_auth("weather-2026", STRANGER))
    ).status_code == 403
    stale = wallet_auth("weather-2026", BUYER, issued=1_000)
    assert (await http.get("/v1/datasets/weather-2026/download", headers=stale)).status_code == 401
    forged = wallet_auth("other-slug", BUYER)  # signed for another dataset
    assert (await http.get("/v1/datasets/weather-2026/download", headers=forged)).status_code == 401


async def test_price_changes_and_retirement_go_on_chain_once_the_holder_approves_the_service(market: Market) -> None:
    creator, buyer = await market.user(CREATOR), await market.user(BUYER)
    token = (await market.upload(creator, ROWS)).json()["token_id"]
    http = market.app.http
    refused = await http.patch("/v1/datasets/weather-2026", json={"price": 7}, headers=creator.auth())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "operator_not_approved"
    assert dev_address(0) in refused.json()["error"]["message"]

    holder = await market.chain.contracts(CREATOR)
    await holder.client.transact(holder.nft.contract.functions.setApprovalForAll(dev_address(0), True))
    repriced = await http.patch("/v1/datasets/weather-2026", json={"price": 7}, headers=creator.auth())
    assert repriced.status_code == 200 and repriced.json()["price"] == 7
    assert await holder.registry.price_of(token) == 7
    renamed = (await http.patch("/v1/datasets/weather-2026", json={"name": "Stations"}, headers=creator.auth())).json()
    assert renamed["name"] == "Stations" and renamed["metadata_cid"] != repriced.json()["metadata_cid"]
    assert await holder.nft.token_uri(token) == f"ipfs://{renamed['metadata_cid']}", "tokenURI follows the listing"
    await market.buy(token, BUYER, 7)

    retired = await http.delete("/v1/datasets/weather-2026", headers=creator.auth())
    assert retired.status_code == 200 and not retired.json()["listed"]
    assert (await http.get("/v1/datasets")).json()["total"] == 0
    assert (await http.get("/v1/datasets/weather-2026")).status_code == 404, "unlisted for the public"
    download = await http.get("/v1/datasets/weather-2026/download", headers=buyer.auth())
    assert download.status_code == 200 and download.content == ROWS, "a buyer keeps what they paid for"


async def test_datasets_are_pinned_when_a_pinning_service_is_configured(tmp_path: Path, chain) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import secured_app
    from tests.marketplace.conftest import market_settings
    from tests.storage.fake_pinning import fake_pinning_app
    from tests.support import ServerThread

    for chunk_size, pinned in ((256 * 1024, True), (1024 * 1024, False)):
        service = fake_pinning_app("jwt-1", chunk_size=chunk_size)
        with ServerThread(service) as pinning:
            settings = market_settings(tmp_path / str(chunk_size), chain)
            settings.storage = settings.storage.model_validate(
                {**settings.storage.model_dump(), "pinning_url": pinning.url, "pinning_jwt": "jwt-1"}
            )
            async for app in secured_app(settings):
                market = Market(app, chain)
                creator = await market.user(CREATOR)
                response = await market.upload(creator, ROWS, slug=f"pinned-{chunk_size}")
                if pinned:
                    assert response.status_code == 201, response.text
                    dataset = response.json()
                    assert set(service.state.pins) == {dataset["content_cid"], dataset["metadata_cid"]}
                else:  # a service that chunks differently publishes another CID: refused, nothing kept
                    assert response.status_code == 502 and service.state.pins == {}
                    assert response.json()["error"]["code"] == "pinning_failed"
                    assert not any(p.is_file() for p in (tmp_path / str(chunk_size) / "blocks").rglob("*"))


async def test_an_upload_over_the_limit_is_refused_even_without_a_length(tmp_path: Path, chain) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import secured_app
    from tests.marketplace.conftest import market_settings

    settings = market_settings(tmp_path, chain)
    settings.storage = settings.storage.model_copy(update={"max_upload_bytes": 100_000})
    async for app in secured_app(settings):
        market = Market(app, chain)
        creator = await market.user(CREATOR)
        declared = await market.upload(creator, ROWS[:200_000])
        assert declared.status_code == 413

        async def chunks():  # type: ignore[no-untyped-def]
            body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
            yield body
            for _ in range(50):
                yield b'{"a": 1}\n' * 1000

        headers = {**creator.auth(), "content-type": "multipart/form-data; boundary=b"}
        chunked = await app.http.post("/v1/datasets", content=chunks(), headers=headers)
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "payload_too_large"


@pytest.mark.postgres
async def test_the_main_flow_on_postgresql(pg_market: Market) -> None:
    await test_upload_mint_buy_download_and_the_access_levels(pg_market)
    buyer = await pg_market.user(NEW_HOLDER)
    earnings = await pg_market.app.http.get("/v1/creators/me/earnings", headers=buyer.auth())
    assert earnings.status_code == 200 and earnings.json()["wallets"] == [dev_address(NEW_HOLDER).lower()]
    listing = (await pg_market.app.http.get("/v1/datasets?q=weather&category=other&sort=price")).json()
    assert listing["total"] == 1
