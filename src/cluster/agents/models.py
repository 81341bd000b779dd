"""An agent Cluster manages: its on-chain identity and its custodial wallet (the key only wrapped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cluster.db.base import Base


class AgentRow(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True, doc="the Cluster account it belongs to")
    chain_id: Mapped[int] = mapped_column(BigInteger)
    identity_registry: Mapped[str] = mapped_column(String(42), doc="the IdentityRegistry, lower-case")
    agent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="the ERC-721 token id once registered")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    services: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    x402_support: Mapped[bool] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean)
    wallet: Mapped[str] = mapped_column(String(42), index=True, doc="the agent wallet, lower-case")
    wallet_master: Mapped[str] = mapped_column(String(64), doc="the master key that wraps the wallet's key")
    wallet_key: Mapped[str] = mapped_column(String(200), doc="the wallet's private key, wrapped (hex)")
    owner: Mapped[str] = mapped_column(String(42), doc="who holds the agent's NFT (Cluster's operator when managed)")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
