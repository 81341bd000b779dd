"""Settings of who signs in and who acts: the Hub's sign-in (sessions, mail, SIWE) and Cluster's own keys for the
agents it manages. Part of the one ``Settings`` (``cluster.settings``), kept apart by responsibility."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = Field(True, description="upgrade with STARTTLS before logging in (port 587)")
    sender: str = Field("Cluster <no-reply@localhost>", description="the From: of sign-in mails")
    timeout: float = Field(10.0, gt=0)


class AgentSettings(BaseModel):
    """ERC-8004 agents Cluster manages (cluster.agents)."""

    enabled: bool = Field(True, description="needs the chain and an IdentityRegistry in chain.addresses")
    operator_key: SecretStr | None = Field(
        None,
        description="hex key that registers and updates managed agents (holds their NFTs); it needs gas. Default on "
        "the embedded dev chain: generated into <data_dir>/agents_operator_key and funded; elsewhere required",
    )
    attestor_key: SecretStr | None = Field(
        None, description="hex key that commits usage epochs and gives agents feedback (never an agent's operator)"
    )
    validator_key: SecretStr | None = Field(None, description="hex key that answers validation requests")
    epoch_seconds: float = Field(3600.0, gt=0, description="length of a usage epoch (one Merkle root each)")

    @model_validator(mode="after")
    def _distinct_keys(self) -> AgentSettings:
        """The registry refuses feedback from an agent's owner or operator: if Cluster's attestor were its
        operator, every score it posts would revert. So the three roles never share a key."""
        keys = {
            role: key.get_secret_value().lower().removeprefix("0x")
            for role, key in (
                ("operator_key", self.operator_key),
                ("attestor_key", self.attestor_key),
                ("validator_key", self.validator_key),
            )
            if key is not None
        }
        if len(set(keys.values())) < len(keys):
            raise ValueError("agents.operator_key, attestor_key and validator_key must be three different keys")
        return self


class HubSettings(BaseModel):
    """The Hub: the web app served at ``/`` (cluster.hub), and the sign-in it shares with the API."""

    enabled: bool = True
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+$",
        description="the Hub's address as users reach it (https://hub.example.org): sign-in links, SIWE messages and "
        "the same-origin check use it, never the request's Host header; set it whenever the server is reachable "
        "by others (unset: sign-in works only on loopback, for development on one machine)",
    )
    session_ttl: float = Field(7 * 86_400, gt=0, description="seconds a sign-in lasts")
    secure_cookies: bool | None = Field(
        None, description="mark the session cookie Secure (HTTPS only); default: on when public_url is https://"
    )
    mailer: Literal["outbox", "smtp", "memory"] = Field(
        "outbox",
        description="where sign-in links go: `outbox` keeps them in the database for the development outbox page "
        "(/dev/outbox, for self-hosters without SMTP); `smtp` sends them; `memory` is for tests",
    )
    smtp: SmtpSettings = SmtpSettings()
    link_ttl: float = Field(900.0, gt=0, description="seconds a sign-in link is valid (used once)")
    siwe_ttl: float = Field(600.0, gt=0, description="seconds a Sign-In with Ethereum message is valid")
    siwe_chain_id: int | None = Field(None, description="the chain SIWE messages name; default: the chain's, else 1")
    login_rpm: int = Field(10, ge=1, description="sign-in attempts per minute per client IP and per email address")
