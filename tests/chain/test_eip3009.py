"""The fast verification path computes the same EIP-712 digests as eth-account and recovers the same signers."""

from __future__ import annotations

import os
import random

from eth_account import Account
from eth_account.messages import _hash_eip191_message

from cluster.chain.contracts import TransferAuthorization
from cluster.chain.devchain import dev_address, dev_key
from cluster.chain.eip3009 import (
    _authorization_message,
    authorization_digest,
    recover_authorization,
    recover_signer,
    sign_authorization,
    usdc_domain,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def random_authorization(rng: random.Random) -> TransferAuthorization:
    return TransferAuthorization(
        dev_address(rng.randrange(10)),
        "0x" + os.urandom(20).hex(),
        rng.randrange(2**256),
        rng.randrange(2**64),
        rng.randrange(2**64),
        os.urandom(32),
    )


def test_digests_match_eth_account_for_both_kinds_and_any_domain() -> None:
    rng = random.Random(7)
    for _ in range(50):
        domain = usdc_domain(
            rng.choice([8453, 84532, 31337]), "0x" + os.urandom(20).hex(), rng.choice(["USDC", "USD Coin"])
        )
        auth = random_authorization(rng)
        for kind in ("TransferWithAuthorization", "ReceiveWithAuthorization"):
            expected = _hash_eip191_message(_authorization_message(domain, auth, kind))  # type: ignore[arg-type]
            assert authorization_digest(domain, auth, kind) == expected  # type: ignore[arg-type]


def test_recovery_matches_the_signer_and_refuses_malleated_or_malformed_signatures() -> None:
    domain = usdc_domain(8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USD Coin")
    auth = TransferAuthorization(dev_address(2), dev_address(3), 10**6, 0, 2**40, os.urandom(32))
    signature = sign_authorization(dev_key(2), domain, auth)
    assert recover_authorization(domain, auth, signature) == dev_address(2).lower()
    assert str(
        Account.recover_message(_authorization_message(domain, auth, "TransferWithAuthorization"), signature=signature)
    ) == dev_address(2)

    # The same signature in its high-s twin recovers the same key elsewhere; USDC refuses it, so do we.
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    assert recover_authorization(domain, auth, twin) is None
    assert recover_signer(b"\x00" * 32, b"\x01" * 64) is None
    assert recover_signer(b"\x00" * 32, signature[:64] + bytes([40])) is None
    other = TransferAuthorization(auth.from_, auth.to, auth.value + 1, 0, 2**40, auth.nonce)
    assert recover_authorization(domain, other, signature) != dev_address(2).lower()
