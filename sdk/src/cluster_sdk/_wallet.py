"""Paying with x402 from a wallet key: answer a 402 by signing a USDC ``TransferWithAuthorization`` (EIP-3009)
for the price the server asked, within the client's limits. Needs ``eth-account`` (``cluster-sdk[wallet]``)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Any
from urllib.parse import urlsplit

import httpx

from cluster_sdk._errors import PaymentLimitError

_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


Money = int | str | Decimal
MAX_MICRO_USDC = 10**15  # what the API takes for one amount


def usdc(amount: Money) -> int:
    """An amount as micro-USDC: a ``str`` or ``Decimal`` is USDC (``"0.01"``, as the CLI takes it), an ``int`` is
    micro-USDC already (``10_000`` = 0.01 USDC). Anything else, or a fraction of a micro-USDC, is refused."""
    if isinstance(amount, bool) or not isinstance(amount, int | str | Decimal):
        raise TypeError(
            f"an amount is USDC as a str or Decimal ('0.01') or micro-USDC as an int, not {type(amount).__name__}"
        )
    if isinstance(amount, int):
        micro = amount
    else:
        exact = localcontext(Context(prec=60, traps=[Inexact, InvalidOperation, Overflow]))
        try:
            with exact:
                scaled = Decimal(amount).scaleb(6)
            if not scaled.is_finite() or scaled != scaled.to_integral_value():
                raise ValueError(f"{amount} USDC is not a whole number of micro-USDC")
        except ArithmeticError:
            raise ValueError(f"not a USDC amount (to the micro-USDC): {amount!r}") from None
        micro = int(scaled)
    if not 0 <= micro <= MAX_MICRO_USDC:
        raise ValueError(f"an amount is between 0 and {MAX_MICRO_USDC // 1_000_000} USDC")
    return micro


class Wallet:
    """A key that pays per request.

    ``max_payment`` caps one request; ``max_total`` caps everything this client pays (each USDC as ``"0.01"`` or a
    ``Decimal``, or micro-USDC as an ``int``). Either refusal raises ``PaymentLimitError`` before anything is
    signed.
    """

    def __init__(self, private_key: str, *, max_payment: Money | None = None, max_total: Money | None = None) -> None:
        try:
            from eth_account import Account
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError("paying with a wallet needs eth-account: pip install 'cluster-sdk[wallet]'") from error
        self._account = Account.from_key(private_key)
        self.max_payment = None if max_payment is None else usdc(max_payment)
        self.max_total = None if max_total is None else usdc(max_total)
        self.spent = 0
        self._lock = threading.Lock()
        self.last_receipt: dict[str, Any] | None = None

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_in(self, base_url: str, timeout: float = 30.0) -> str:
        """Sign in to Cluster with this wallet (Sign-In with Ethereum, EIP-4361) and return the session token, an
        API credential with no key: ``Cluster(base_url, api_key=token)``. The server writes the message (its
        domain, this address, a single-use nonce); this only checks it names this wallet, then signs it."""
        from eth_account.messages import encode_defunct

        root = base_url.rstrip("/").removesuffix("/v1")
        with httpx.Client(base_url=root, timeout=timeout) as http:
            asked = http.get("/auth/siwe/message", params={"address": self.address})
            asked.raise_for_status()
            message = str(asked.json()["message"])
            # sign only a message for this server (a signature for another site's domain would sign in there)
            site = urlsplit(root)
            lines = message.splitlines()
            if (
                len(lines) < 2
                or lines[0] != f"{site.netloc} wants you to sign in with your Ethereum account:"
                or lines[1] != self.address
                or f"\nURI: {root}\n" not in message
            ):
                raise ValueError(f"the sign-in message is not for {root} and this wallet: not signing it")
            signature = self._account.sign_message(encode_defunct(text=message)).signature
            answer = http.post("/auth/siwe", json={"message": message, "signature": "0x" + bytes(signature).hex()})
            answer.raise_for_status()
            return str(answer.cookies["cluster_session"])

    def pay(self, response: httpx.Response) -> dict[str, str]:
        """The headers that pay what a 402 ``response`` asks; counts the amount as spent."""
        header = response.headers.get("payment-required")
        if header is None:
            raise PaymentLimitError("the server asked for payment without x402 requirements")
        required = json.loads(base64.b64decode(header))
        accepts = next((a for a in required.get("accepts", []) if a.get("scheme") == "exact"), None)
        if accepts is None:
            raise PaymentLimitError("the server offers no x402 scheme this wallet can pay (exact)")
        amount = int(accepts["amount"])
        with self._lock:
            if self.max_payment is not None and amount > self.max_payment:
                raise PaymentLimitError(f"price {amount} is over max_payment {self.max_payment}")
            if self.max_total is not None and self.spent + amount > self.max_total:
                raise PaymentLimitError(f"paying {amount} would pass max_total {self.max_total} (spent {self.spent})")
            self.spent += amount
        payload = {"x402Version": 2, "payload": self._sign(accepts), "accepted": accepts}
        if required.get("resource"):
            payload["resource"] = required["resource"]
        return {"PAYMENT-SIGNATURE": base64.b64encode(json.dumps(payload).encode()).decode()}

    def refund(self, amount: int) -> None:
        """A payment the server refused moved nothing: it does not count against ``max_total``."""
        with self._lock:
            self.spent -= amount

    def note_receipt(self, response: httpx.Response) -> None:
        header = response.headers.get("payment-response")
        if header:
            self.last_receipt = json.loads(base64.b64decode(header))

    def _sign(self, accepts: dict[str, Any]) -> dict[str, Any]:
        from eth_account import Account
        from eth_account.messages import encode_typed_data

        chain_id = int(str(accepts["network"]).removeprefix("eip155:"))
        extra = accepts.get("extra") or {}
        message = {
            "from": self.address,
            "to": accepts["payTo"],
            "value": int(accepts["amount"]),
            "validAfter": 0,
            "validBefore": int(time.time()) + int(accepts.get("maxTimeoutSeconds", 300)),
            "nonce": os.urandom(32),
        }
        domain = {
            "name": extra.get("name", "USDC"),
            "version": extra.get("version", "2"),
            "chainId": chain_id,
            "verifyingContract": accepts["asset"],
        }
        typed = encode_typed_data(
            domain_data=domain, message_types={"TransferWithAuthorization": _FIELDS}, message_data=message
        )
        signature = Account.sign_message(typed, self._account.key).signature
        authorization = {**message, "nonce": "0x" + message["nonce"].hex()}
        return {
            "authorization": {k: str(v) for k, v in authorization.items()},
            "signature": "0x" + bytes(signature).hex(),
        }


def amount_of(headers: dict[str, str]) -> int:
    """The amount a PAYMENT-SIGNATURE header authorizes (to release it from the budget if refused)."""
    payload = json.loads(base64.b64decode(headers["PAYMENT-SIGNATURE"]))
    return int(payload["payload"]["authorization"]["value"])
