"""TestUSDC behaves like USDC (FiatTokenV2_2): EIP-3009 semantics and revert strings, both signature forms."""

from __future__ import annotations

import os
import re

import pytest

from cluster.chain.contracts import TransferAuthorization, events_in
from cluster.chain.eip3009 import (
    recover_authorization,
    sign_authorization,
    split_signature,
    usdc_domain,
)
from cluster.errors import TransactionReverted
from tests.chain_fixtures import Chain

PAYER, PAYEE, RELAYER, STRANGER = 2, 3, 4, 5


def exactly(reason: str) -> str:
    """USDC's revert string, whole."""
    return re.escape(f"reverted: {reason}") + "$"


async def authorization(chain: Chain, value: int = 1_000, *, after: int = -10, before: int = 600, to: int = PAYEE):
    now = await chain.now()
    return TransferAuthorization(
        chain.address(PAYER), chain.address(to), value, now + after, now + before, os.urandom(32)
    )


async def transfer(
    chain: Chain, auth: TransferAuthorization, signature: bytes, *, split: bool = False, gas: int | None = None
) -> None:
    relayer = await chain.contracts(RELAYER)
    usdc = relayer.usdc.contract.functions
    fields = (auth.from_, auth.to, auth.value, auth.valid_after, auth.valid_before, auth.nonce)
    call = usdc.transferWithAuthorization(*fields, *split_signature(signature)) if split else None
    await relayer.client.transact(call or usdc.transferWithAuthorization(*fields, signature), gas=gas)


def sign(chain: Chain, auth: TransferAuthorization, account: int = PAYER, kind: str = "TransferWithAuthorization"):
    return sign_authorization(chain.key(account), usdc_domain(chain.chain_id, chain.addresses.usdc), auth, kind)  # type: ignore[arg-type]


async def test_domain_and_metadata_match_usdc(chain: Chain) -> None:
    usdc = (await chain.contracts()).usdc.contract.functions
    assert await usdc.decimals().call() == 6
    assert await usdc.name().call() == "USDC"
    assert await usdc.version().call() == "2"
    auth = await authorization(chain)
    recovered = recover_authorization(usdc_domain(chain.chain_id, chain.addresses.usdc), auth, sign(chain, auth))
    assert recovered == chain.address(PAYER).lower()


@pytest.mark.parametrize("split", [False, True], ids=["bytes-signature", "v-r-s"])
async def test_a_relayer_moves_funds_once(chain: Chain, split: bool) -> None:
    contracts = await chain.contracts()
    auth = await authorization(chain, 1_234)
    signature = sign(chain, auth)
    before = await contracts.usdc.balance_of(chain.address(PAYEE))
    await transfer(chain, auth, signature, split=split)
    assert await contracts.usdc.balance_of(chain.address(PAYEE)) == before + 1_234
    assert await contracts.usdc.authorization_state(chain.address(PAYER), auth.nonce)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is used or canceled")):
        await transfer(chain, auth, signature, split=split)


async def test_expired_and_not_yet_valid_authorizations_revert(chain: Chain) -> None:
    expired = await authorization(chain, after=-100, before=-1)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is expired")):
        await transfer(chain, expired, sign(chain, expired))
    early = await authorization(chain, after=300, before=600)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is not yet valid")):
        await transfer(chain, early, sign(chain, early))


async def test_the_window_is_strict_at_both_ends(chain: Chain) -> None:
    now = await chain.now()
    nonce = os.urandom(32)
    # validAfter == block time is not yet valid; validBefore == block time is expired. A fixed gas limit skips
    # the estimate (which runs at the current time) so each transaction is judged in the block it lands in.
    at = TransferAuthorization(chain.address(PAYER), chain.address(PAYEE), 1, now + 50, now + 100, nonce)
    await chain.rpc("evm_setNextBlockTimestamp", hex(now + 50))
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is not yet valid")):
        await transfer(chain, at, sign(chain, at), gas=200_000)
    await chain.rpc("evm_setNextBlockTimestamp", hex(now + 51))
    await transfer(chain, at, sign(chain, at), gas=200_000)  # inside the window: valid
    again = TransferAuthorization(at.from_, at.to, 1, now + 50, now + 100, os.urandom(32))
    await chain.rpc("evm_setNextBlockTimestamp", hex(now + 100))
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is expired")):
        await transfer(chain, again, sign(chain, again), gas=200_000)


async def test_a_wrong_signer_or_altered_terms_revert(chain: Chain) -> None:
    auth = await authorization(chain)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: invalid signature")):
        await transfer(chain, auth, sign(chain, auth, account=STRANGER))
    more = TransferAuthorization(auth.from_, auth.to, auth.value + 1, auth.valid_after, auth.valid_before, auth.nonce)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: invalid signature")):
        await transfer(chain, more, sign(chain, auth))
    with pytest.raises(TransactionReverted, match=exactly("ECRecover: invalid signature length")):
        await transfer(chain, auth, b"\x01" * 64)


async def test_receive_with_authorization_only_by_the_payee(chain: Chain) -> None:
    auth = await authorization(chain, to=PAYEE)
    signature = sign(chain, auth, kind="ReceiveWithAuthorization")
    fields = (auth.from_, auth.to, auth.value, auth.valid_after, auth.valid_before, auth.nonce, signature)
    relayer = await chain.client(RELAYER)
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: caller must be the payee")):
        await relayer.transact(
            relayer.contract("TestUSDC", chain.addresses.usdc).functions.receiveWithAuthorization(*fields)
        )
    payee = await chain.client(PAYEE)
    receipt = await payee.transact(
        payee.contract("TestUSDC", chain.addresses.usdc).functions.receiveWithAuthorization(*fields)
    )
    (used,) = events_in(payee.contract("TestUSDC", chain.addresses.usdc), "AuthorizationUsed", receipt)
    assert used["args"]["nonce"] == auth.nonce


async def test_a_canceled_authorization_cannot_be_used(chain: Chain) -> None:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    auth = await authorization(chain)
    cancel = encode_typed_data(
        domain_data=usdc_domain(chain.chain_id, chain.addresses.usdc),
        message_types={
            "CancelAuthorization": [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}]
        },
        message_data={"authorizer": auth.from_, "nonce": auth.nonce},
    )
    signature = bytes(Account.sign_message(cancel, chain.key(PAYER)).signature)
    relayer = await chain.client(RELAYER)
    usdc = relayer.contract("TestUSDC", chain.addresses.usdc)
    await relayer.transact(usdc.functions.cancelAuthorization(auth.from_, auth.nonce, *split_signature(signature)))
    with pytest.raises(TransactionReverted, match=exactly("FiatTokenV2: authorization is used or canceled")):
        await transfer(chain, auth, sign(chain, auth))


async def test_insufficient_balance_reverts_with_the_erc20_message(chain: Chain) -> None:
    contracts = await chain.contracts()
    balance = await contracts.usdc.balance_of(chain.address(PAYER))
    auth = await authorization(chain, balance + 1)
    with pytest.raises(TransactionReverted, match=exactly("ERC20: transfer amount exceeds balance")):
        await transfer(chain, auth, sign(chain, auth))
