"""Wire models of the marketplace API."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from cluster.wire.bounds import INT64, MAX_MICRO_USDC

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,62})[a-z0-9]$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class Access(IntEnum):
    """The seed's four levels, each including the ones below."""

    PUBLIC = 0  # anyone: listing, stats, schema
    PREVIEW = 1  # signed-in users: the first rows / file names
    DOWNLOAD = 2  # buyers (a linked wallet has access on chain): the bytes
    FULL = 3  # the creator and the NFT's current holder: everything, edits, earnings


Category = Literal["nlp", "vision", "audio", "medical", "financial", "social", "code", "other"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class DatasetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str
    price: int = Field(ge=0, le=MAX_MICRO_USDC, description="USDC base units (micro-USDC)")
    category: Category
    license: str = Field("proprietary", max_length=64)
    description: str = Field("", max_length=10_000)
    wallet: str = Field(description="the creator's wallet: it receives the NFT, and with it the 85% share")
    format: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("3-64 characters of a-z, 0-9 and '-', not starting or ending with '-'")
        return value

    @field_validator("wallet")
    @classmethod
    def _wallet(cls, value: str) -> str:
        if not ADDRESS.match(value):
            raise ValueError("not a 0x-prefixed 20-byte address")
        return value


class DatasetUpdate(BaseModel):
    """Listing fields change here; ``price`` changes on chain, sent by the service's signer, which the holder
    must have approved as operator on the NFT (``setApprovalForAll``)."""

    price: int | None = Field(None, ge=0, le=MAX_MICRO_USDC, description="micro-USDC; 0 takes it off sale")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    license: str | None = Field(None, max_length=64)
    listed: bool | None = None


class DatasetObject(BaseModel):
    object: Literal["dataset"] = "dataset"
    id: str
    slug: str
    name: str
    description: str
    category: str
    license: str
    format: str
    price: int = Field(description="micro-USDC; 0 = not for sale")
    creator_wallet: str
    size: int
    sha256: str
    stats: dict[str, Any]
    content_cid: str
    metadata_cid: str
    token_uri: str
    chain_id: int | None
    token_id: int | None
    listed: bool
    created_at: int
    access: str = Field(description="the caller's level: public, preview, download or full")
    sales: int | None = Field(None, description="purchases the indexer has seen (in lists)")


class DatasetList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DatasetObject]
    total: int
    has_more: bool


class PreviewObject(BaseModel):
    object: Literal["dataset.preview"] = "dataset.preview"
    slug: str
    format: str
    rows: list[Any]


class WalletLink(BaseModel):
    address: str
    issued_at: int = Field(ge=0, le=INT64, description="unix seconds in the signed message; at most 10 minutes old")
    signature: str

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not ADDRESS.match(value):
            raise ValueError("not a 0x-prefixed 20-byte address")
        return value


class WalletObject(BaseModel):
    object: Literal["wallet"] = "wallet"
    address: str
    user_id: str
    created_at: int


class DatasetEarnings(BaseModel):
    slug: str
    token_id: int
    sales: int
    buyers: int
    received: int = Field(description="micro-USDC paid to your wallets as holder (85%)")
    royalties: int = Field(0, description="micro-USDC paid to your wallets from calls of models trained on it")
    royalties_pending: int = Field(0, description="micro-USDC accrued from such calls, due at the next payout")


class Earnings(BaseModel):
    object: Literal["earnings"] = "earnings"
    wallets: list[str]
    datasets: list[DatasetEarnings]
    total_received: int = Field(description="micro-USDC")
    total_royalties: int = Field(0, description="micro-USDC")
    total_royalties_pending: int = Field(0, description="micro-USDC")
    referrals: int = Field(description="purchases you referred")
    referral_received: int = Field(description="micro-USDC paid to your wallets as referrer (5%)")


class SaleObject(BaseModel):
    object: Literal["dataset.sale"] = "dataset.sale"
    slug: str | None
    token_id: int
    buyer: str
    price: int = Field(description="micro-USDC paid")
    received: int = Field(description="micro-USDC to the holder (85%)")
    referrer_amount: int
    block_number: int
    tx_hash: str


class SaleList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SaleObject]


def link_message(user_id: str, address: str, issued_at: int) -> str:
    """What a wallet signs (EIP-191 personal_sign) to be linked to an account."""
    return f"Link this wallet to Cluster account {user_id}\nWallet: {address.lower()}\nIssued at: {issued_at}"


def access_message(slug: str, address: str, issued_at: int) -> str:
    """What a wallet with no account signs (EIP-191) to read a dataset it bought: sent as
    ``X-Wallet-Auth: <address>:<issued_at>:<signature>``, valid for 10 minutes."""
    return f"Read Cluster dataset {slug}\nWallet: {address.lower()}\nIssued at: {issued_at}"
