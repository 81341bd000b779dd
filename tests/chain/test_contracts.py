"""Cluster's contracts on a real local node (anvil): the split to the wei, holders, upgrades, pausing, slugs."""

from __future__ import annotations

import pytest

from cluster.chain.contracts import Contracts, TransferAuthorization, events_in
from cluster.chain.deployment import deploy_implementation
from cluster.chain.eip3009 import sign_authorization, sign_permit, split_signature, usdc_domain
from cluster.errors import TransactionReverted
from tests.chain_fixtures import Chain

CREATOR, BUYER, REFERRER, OTHER = 2, 3, 4, 5
ZERO = "0x0000000000000000000000000000000000000000"


async def register(chain: Chain, price: int, slug: str = "weather-2026", creator: int = CREATOR) -> int:
    contracts = await chain.contracts(creator)
    dataset_id, _ = await contracts.registry.register(chain.address(creator), slug, "bafy-metadata", price)
    return dataset_id


async def balances(contracts: Contracts, *accounts: str) -> list[int]:
    return [await contracts.usdc.balance_of(account) for account in accounts]


def expected_split(price: int, referred: bool) -> tuple[int, int, int]:
    referrer = price * 500 // 10_000
    treasury = price * 1_000 // 10_000
    if not referred:
        treasury, referrer = treasury + referrer, 0
    return price - treasury - referrer, treasury, referrer


@pytest.mark.parametrize("price", [1, 3, 7, 10**6 + 1, 123_456_789])
@pytest.mark.parametrize("referred", [True, False])
async def test_purchase_splits_exactly_to_the_unit(chain: Chain, price: int, referred: bool) -> None:
    dataset_id = await register(chain, price)
    buyer = await chain.contracts(BUYER)
    treasury = chain.addresses.treasury
    parties = [chain.address(CREATOR), treasury, chain.address(REFERRER), chain.address(BUYER)]
    before = await balances(buyer, *parties)

    await buyer.usdc.approve(buyer.router.address, price)
    receipt = await buyer.router.purchase(dataset_id, chain.address(REFERRER) if referred else ZERO)

    after = await balances(buyer, *parties)
    creator_amount, treasury_amount, referrer_amount = expected_split(price, referred)
    assert [a - b for a, b in zip(after, before, strict=True)] == [
        creator_amount,
        treasury_amount,
        referrer_amount,
        -price,
    ]
    assert creator_amount + treasury_amount + referrer_amount == price
    assert await buyer.router.split_of(price, referred) == (creator_amount, treasury_amount, referrer_amount)
    assert await buyer.router.has_access(chain.address(BUYER), dataset_id)
    assert await buyer.router.purchase_count(dataset_id) == 1
    (event,) = events_in(buyer.router.contract, "Purchased", receipt)
    assert event["args"]["price"] == price and event["args"]["creatorAmount"] == creator_amount
    assert event["args"]["beneficiary"] == chain.address(CREATOR)


async def test_the_current_holder_receives_the_creator_share(chain: Chain) -> None:
    dataset_id = await register(chain, 1_000_000)
    creator = await chain.contracts(CREATOR)
    await creator.client.transact(
        creator.nft.contract.functions.transferFrom(chain.address(CREATOR), chain.address(OTHER), dataset_id)
    )
    buyer = await chain.contracts(BUYER)
    before = await balances(buyer, chain.address(CREATOR), chain.address(OTHER))
    await buyer.usdc.approve(buyer.router.address, 1_000_000)
    await buyer.router.purchase(dataset_id, ZERO)
    after = await balances(buyer, chain.address(CREATOR), chain.address(OTHER))
    assert (after[0] - before[0], after[1] - before[1]) == (0, 850_000)
    # ... and the new holder now controls the price; the creator no longer does.
    holder = await chain.contracts(OTHER)
    await holder.registry.set_price(dataset_id, 5)
    with pytest.raises(TransactionReverted, match="NotHolder"):
        await creator.registry.set_price(dataset_id, 6)


async def test_a_buyer_pays_once_and_unpriced_datasets_are_not_for_sale(chain: Chain) -> None:
    dataset_id = await register(chain, 10)
    free_id = await register(chain, 0, slug="free-data")
    buyer = await chain.contracts(BUYER)
    await buyer.usdc.approve(buyer.router.address, 100)
    await buyer.router.purchase(dataset_id, ZERO)
    with pytest.raises(TransactionReverted, match="AlreadyPurchased"):
        await buyer.router.purchase(dataset_id, ZERO)
    with pytest.raises(TransactionReverted, match="NotForSale"):
        await buyer.router.purchase(free_id, ZERO)
    with pytest.raises(TransactionReverted, match="UnknownDataset"):
        await buyer.router.purchase(999, ZERO)


async def test_self_referral_pays_the_treasury(chain: Chain) -> None:
    dataset_id = await register(chain, 1_000)
    buyer = await chain.contracts(BUYER)
    before = await balances(buyer, chain.addresses.treasury, chain.address(BUYER))
    await buyer.usdc.approve(buyer.router.address, 1_000)
    await buyer.router.purchase(dataset_id, chain.address(BUYER))
    after = await balances(buyer, chain.addresses.treasury, chain.address(BUYER))
    assert (after[0] - before[0], after[1] - before[1]) == (150, -1_000)


async def test_purchase_for_gives_access_to_someone_else(chain: Chain) -> None:
    dataset_id = await register(chain, 50)
    payer = await chain.contracts(OTHER)
    await payer.usdc.approve(payer.router.address, 50)
    await payer.router.purchase_for(dataset_id, chain.address(BUYER), ZERO)
    assert await payer.router.has_access(chain.address(BUYER), dataset_id)
    assert not await payer.router.has_access(chain.address(OTHER), dataset_id)


async def test_purchase_with_permit_in_one_transaction(chain: Chain) -> None:
    dataset_id = await register(chain, 777)
    buyer = await chain.contracts(BUYER)
    domain = usdc_domain(chain.chain_id, buyer.usdc.address)
    deadline = await chain.now() + 600
    nonce = await buyer.usdc.contract.functions.nonces(chain.address(BUYER)).call()
    signature = sign_permit(chain.key(BUYER), domain, chain.address(BUYER), buyer.router.address, 777, nonce, deadline)
    v, r, s = split_signature(signature)
    await buyer.client.transact(
        buyer.router.contract.functions.purchaseWithPermit(dataset_id, ZERO, 777, deadline, v, r, s)
    )
    assert await buyer.router.has_access(chain.address(BUYER), dataset_id)


async def test_purchase_with_authorization_is_relayable_but_bound_to_its_dataset(chain: Chain) -> None:
    dataset_id = await register(chain, 2_000)
    other_id = await register(chain, 2_000, slug="other-data")
    relayer = await chain.contracts(OTHER)
    router = relayer.router.contract
    salt = b"\x11" * 32
    nonce = await router.functions.purchaseNonce(dataset_id, ZERO, salt).call()
    now = await chain.now()
    auth = TransferAuthorization(chain.address(BUYER), relayer.router.address, 2_000, now - 10, now + 600, nonce)
    signature = sign_authorization(
        chain.key(BUYER), usdc_domain(chain.chain_id, relayer.usdc.address), auth, "ReceiveWithAuthorization"
    )
    args = (chain.address(BUYER), ZERO, auth.valid_after, auth.valid_before, salt, signature)
    # A relayer cannot spend the signature on another dataset: the nonce would differ, so the signature fails.
    with pytest.raises(TransactionReverted, match="FiatTokenV2: invalid signature"):
        await relayer.client.transact(router.functions.purchaseWithAuthorization(other_id, *args))
    before = await relayer.usdc.balance_of(chain.address(BUYER))
    await relayer.client.transact(router.functions.purchaseWithAuthorization(dataset_id, *args))
    assert await relayer.usdc.balance_of(chain.address(BUYER)) == before - 2_000
    assert await relayer.router.has_access(chain.address(BUYER), dataset_id)


async def test_duplicate_and_malformed_slugs_revert(chain: Chain) -> None:
    await register(chain, 1, slug="cities")
    with pytest.raises(TransactionReverted, match=r"SlugTaken\(cities\)"):
        await register(chain, 1, slug="cities", creator=OTHER)
    for bad in ("ab", "Upper", "-lead", "trail-", "spa ce", "x" * 65):
        with pytest.raises(TransactionReverted, match="InvalidSlug"):
            await register(chain, 1, slug=bad)
    contracts = await chain.contracts(BUYER)
    dataset_id = await contracts.registry.id_of("cities")
    assert dataset_id > 0
    assert await contracts.nft.token_uri(dataset_id) == "ipfs://bafy-metadata"
    assert await contracts.nft.owner_of(dataset_id) == chain.address(CREATOR)


async def test_pause_blocks_purchases_and_only_the_owner_pauses(chain: Chain) -> None:
    dataset_id = await register(chain, 10)
    owner = await chain.contracts(0)
    buyer = await chain.contracts(BUYER)
    with pytest.raises(TransactionReverted, match="OwnableUnauthorizedAccount"):
        await buyer.client.transact(buyer.router.contract.functions.pause())
    await owner.client.transact(owner.router.contract.functions.pause())
    await buyer.usdc.approve(buyer.router.address, 10)
    with pytest.raises(TransactionReverted, match="EnforcedPause"):
        await buyer.router.purchase(dataset_id, ZERO)
    await owner.client.transact(owner.router.contract.functions.unpause())
    await buyer.router.purchase(dataset_id, ZERO)


async def test_only_the_owner_upgrades_and_an_upgrade_keeps_state(chain: Chain) -> None:
    dataset_id = await register(chain, 100)
    buyer = await chain.contracts(BUYER)
    await buyer.usdc.approve(buyer.router.address, 100)
    await buyer.router.purchase(dataset_id, ZERO)

    owner = await chain.contracts(0)
    router_v2 = await deploy_implementation(owner.client, "PaymentRouterV2")
    nft_v2 = await deploy_implementation(owner.client, "DatasetNFTV2")
    for proxy, implementation in ((buyer.router, router_v2), (buyer.nft, nft_v2)):
        with pytest.raises(TransactionReverted, match="OwnableUnauthorizedAccount"):
            await buyer.client.transact(proxy.contract.functions.upgradeToAndCall(implementation, b""))
    await owner.client.transact(owner.router.contract.functions.upgradeToAndCall(router_v2, b""))
    await owner.client.transact(owner.nft.contract.functions.upgradeToAndCall(nft_v2, b""))

    assert await buyer.router.contract.functions.version().call() == "2"
    assert await buyer.nft.contract.functions.version().call() == "2"
    assert await buyer.router.has_access(chain.address(BUYER), dataset_id)
    assert await buyer.router.purchase_count(dataset_id) == 1
    assert await buyer.nft.owner_of(dataset_id) == chain.address(CREATOR)
    assert await buyer.nft.token_uri(dataset_id) == "ipfs://bafy-metadata"
    assert await buyer.router.contract.functions.treasury().call() == chain.addresses.treasury
    # The implementations themselves cannot be initialized by anyone (constructor disables initializers).
    implementation = buyer.client.contract("PaymentRouterV2", router_v2)
    with pytest.raises(TransactionReverted, match="InvalidInitialization"):
        await buyer.client.transact(
            implementation.functions.initialize(
                chain.address(BUYER), buyer.usdc.address, buyer.registry.address, chain.address(BUYER)
            )
        )


async def test_cluster_token_is_capped_permit_and_votes(chain: Chain) -> None:
    owner = await chain.contracts(0)
    token = owner.client.contract("ClusterToken", chain.addresses.token)
    cap = await token.functions.cap().call()
    await owner.client.transact(token.functions.mint(chain.address(BUYER), 1_000))
    with pytest.raises(TransactionReverted, match="ERC20ExceededCap"):
        await owner.client.transact(token.functions.mint(chain.address(BUYER), cap))
    buyer = await chain.client(BUYER)
    with pytest.raises(TransactionReverted, match="OwnableUnauthorizedAccount"):
        await buyer.transact(buyer.contract("ClusterToken", token.address).functions.mint(chain.address(BUYER), 1))
    await buyer.transact(buyer.contract("ClusterToken", token.address).functions.delegate(chain.address(BUYER)))
    assert await token.functions.getVotes(chain.address(BUYER)).call() == 1_000
    assert await token.functions.symbol().call() == "CP"


async def test_an_approved_operator_may_reprice_and_retire_and_a_retired_dataset_is_not_sold(chain: Chain) -> None:
    dataset_id = await register(chain, 100)
    operator = await chain.contracts(OTHER)
    with pytest.raises(TransactionReverted, match="NotHolder"):
        await operator.registry.set_price(dataset_id, 5)
    creator = await chain.contracts(CREATOR)
    await creator.client.transact(creator.nft.contract.functions.setApprovalForAll(chain.address(OTHER), True))
    await operator.registry.set_price(dataset_id, 5)
    assert await operator.registry.price_of(dataset_id) == 5

    buyer = await chain.contracts(BUYER)
    await buyer.usdc.approve(buyer.router.address, 5)
    await buyer.router.purchase(dataset_id, ZERO)
    with pytest.raises(TransactionReverted, match="NotHolder"):
        await buyer.registry.retire(dataset_id)
    await operator.registry.retire(dataset_id)
    with pytest.raises(TransactionReverted, match="ERC721NonexistentToken"):
        await buyer.nft.owner_of(dataset_id)
    late = await chain.contracts(REFERRER)
    await late.usdc.approve(late.router.address, 5)
    with pytest.raises(TransactionReverted, match="NotForSale"):
        await late.router.purchase(dataset_id, ZERO)
    assert await buyer.router.has_access(chain.address(BUYER), dataset_id), "buyers keep their access record"
    assert await buyer.registry.id_of("weather-2026") == dataset_id, "the slug stays taken"
