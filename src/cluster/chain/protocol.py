"""Wire models of the chain read API (``/v1/chain/*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cluster.settings import ContractAddresses


class ChainInfo(BaseModel):
    object: Literal["chain.info"] = "chain.info"
    chain_id: int
    network: str = Field(description="CAIP-2 id, e.g. eip155:8453")
    embedded: bool = Field(description="the embedded dev chain (anvil) rather than a configured node")
    head_block: int
    indexed_block: int
    confirmations: int
    signer: str | None
    contracts: ContractAddresses


class PurchaseObject(BaseModel):
    object: Literal["chain.purchase"] = "chain.purchase"
    dataset_id: int
    buyer: str
    referrer: str
    beneficiary: str
    price: int = Field(description="micro-USDC")
    creator_amount: int = Field(description="micro-USDC")
    treasury_amount: int = Field(description="micro-USDC")
    referrer_amount: int = Field(description="micro-USDC")
    tx_hash: str
    block_number: int


class DatasetOnChain(BaseModel):
    object: Literal["chain.dataset"] = "chain.dataset"
    dataset_id: int
    slug: str
    creator: str
    holder: str = Field(description="current NFT holder: receives the 85% creator share")
    price: int = Field(description="USDC base units (6 decimals)")
    token_uri: str
    purchases: int
    recent_purchases: list[PurchaseObject]


class DepositObject(BaseModel):
    object: Literal["chain.deposit"] = "chain.deposit"
    tx_hash: str
    log_index: int
    block_number: int
    sender: str
    token: str
    amount: str = Field(description="token base units, decimal string")
    credited: int | None = Field(description="micro-USDC credited to the balance")
    status: str


class DepositList(BaseModel):
    object: Literal["list"] = "list"
    reference: str = Field(description="pass as `account` to Deposits.deposit / depositETH to credit this user")
    contract: str
    usdc: str
    chain_id: int
    data: list[DepositObject]


class WalletCall(BaseModel):
    """A transaction for the user's own wallet to send (``eth_sendTransaction``): built here, signed there."""

    to: str
    data: str = Field(description="0x-prefixed calldata")
    value: str = "0x0"
    description: str


class WalletCalls(BaseModel):
    object: Literal["wallet.calls"] = "wallet.calls"
    chain_id: int
    calls: list[WalletCall] = Field(description="send in order, each after the previous one's receipt")
