"""The one typed configuration object.

Sources, highest priority first: keyword arguments, ``CLUSTER_*`` environment variables (nested with
``__``, lists/objects as JSON), ``cluster.toml`` (path from ``--config`` or ``CLUSTER_CONFIG``), defaults.
Built by the app factory or the CLI, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cluster.settings.accounts import AgentSettings, HubSettings

TaskType = Literal["chat", "code", "reasoning", "instruct", "embedding", "tts", "stt", "rerank", "image"]
ProviderKind = Literal[
    "openai_compatible",
    "llama_cpp",
    "minilm_onnx",
    "piper_voice",
    "faster_whisper",
    "e5_rerank",
    "minilm_rerank",
    "diffusers",
]

LOCAL_CHAT_MODEL = "smollm2-135m-instruct"
LOCAL_EMBEDDING_MODEL = "all-minilm-l6-v2"


class Lineage(BaseModel):
    """Where a derived model came from: the marketplace dataset it was trained on earns ``royalty_bps`` of every
    billed call (paid to the dataset NFT's holder at payout time)."""

    dataset: str | None = Field(None, description="the marketplace dataset's slug (None: trained on a plain file)")
    token_id: int | None = Field(None, description="the dataset's NFT")
    base: str | None = None
    job: str | None = None
    royalty_bps: int = Field(1000, ge=0, le=10_000, description="basis points of each call's price (10% default)")


class ModelConfig(BaseModel):
    """One entry of the public catalog. Prices are integer micro-USDC: per 1M tokens or characters, and per
    second of audio, image or search (what each modality is priced by; see ``cluster.billing.pricing``)."""

    id: str
    task: TaskType = "chat"
    aliases: list[str] = []
    owned_by: str = "cluster"
    context_length: int | None = None
    input_price: int = Field(0, ge=0, description="micro-USDC per 1M input tokens")
    output_price: int = Field(0, ge=0, description="micro-USDC per 1M output tokens")
    character_price: int = Field(0, ge=0, description="micro-USDC per 1M input characters (text to speech)")
    second_price: int = Field(0, ge=0, description="micro-USDC per second of audio (transcription)")
    image_price: int = Field(0, ge=0, description="micro-USDC per image generated")
    search_price: int = Field(0, ge=0, description="micro-USDC per search (rerank: one query over its documents)")
    dimensions: int | None = None
    voices: list[str] | None = Field(None, description="tts: the voice names it takes")
    sizes: list[str] | None = Field(None, description="image: the sizes it makes (WIDTHxHEIGHT)")
    description: str | None = Field(None, description="what the model is, shown in /v1/models")
    multilingual: bool = Field(False, description="stt: other languages than English, and translations")
    tee: bool = False
    lineage: Lineage | None = None


class ProviderConfig(BaseModel):
    """An upstream that serves some catalog models.

    ``models`` maps catalog ids to the upstream's own model names; a list means the names are the same.
    """

    name: str
    kind: ProviderKind = "openai_compatible"
    base_url: str | None = None
    api_key: SecretStr | None = None
    headers: dict[str, str] = {}
    models: dict[str, str] = {}
    weight: float = Field(1.0, gt=0)
    max_concurrency: int = Field(256, ge=1)
    connect_timeout: float = Field(3.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)
    tee: bool = Field(False, description="a confidential provider: attested before use, every response signed")
    allow_simulated: bool = Field(False, description="tee: accept a simulated enclave's quote (development only)")
    attestation_interval: float = Field(300.0, gt=0, description="tee: seconds between fresh attestations")
    pccs_url: str = Field("https://pccs.phala.network", description="tee: where DCAP collateral is fetched")
    allowed_compose_hashes: list[str] = Field([], description="tee: hex compose hashes (builds) this provider may run")
    compose_policy: Literal["either", "registry", "allow_list"] = Field(
        "either",
        description="tee: which builds are trusted: `either` one listed in allowed_compose_hashes or allowed on the "
        "chain's ComposeRegistry (`cluster tee allow`); `registry`: on chain only (revocation is final); "
        "`allow_list`: the configured list only",
    )
    allowed_mrtd: list[str] = Field([], description="tee: hex MRTDs (TD images) accepted; empty: any")
    nvidia_jwks: str = Field(
        "https://nras.attestation.nvidia.com/.well-known/jwks.json",
        description="tee: NVIDIA's NRAS keys (a URL or a file), for providers whose report carries GPU evidence",
    )
    model_path: Path | None = None
    threads: int | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _list_means_same_name(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {name: name for name in value}
        return value

    @model_validator(mode="after")
    def _remote_needs_url(self) -> ProviderConfig:
        if self.kind == "openai_compatible" and not self.base_url:
            raise ValueError(f"provider {self.name!r}: openai_compatible needs base_url")
        return self


class RouterSettings(BaseModel):
    max_attempts: int = Field(3, ge=1, description="providers tried per request before giving up")
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open a breaker")
    breaker_cooldown: float = Field(10.0, gt=0, description="seconds open before a half-open probe")
    ewma_alpha: float = Field(0.2, gt=0, le=1)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="proxies whose X-Forwarded-For is trusted for the client IP (per-IP limits)"
    )
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)


class LocalModelSettings(BaseModel):
    """The bundled small models that make the embedded default work with nothing else installed."""

    enabled: bool = True
    chat_context: int = 2048
    threads: int | None = None
    max_queue: int = Field(32, ge=1, description="local requests waiting or running before 503")
    reproducible: bool = Field(
        True,
        description="greedy (temperature 0) and seeded chat requests give the same text every time: they start from "
        "an empty context, paying for the prompt's evaluation where the cache would have reused it",
    )


class MediaSettings(BaseModel):
    """Audio uploads and generated images."""

    max_audio_seconds: float = Field(
        3600, gt=0, description="longest transcription accepted, measured by decoding (a 25 MB file can hold hours)"
    )
    max_decodes: int = Field(2, ge=1, description="uploads decoded at once (each up to ~230 MB of samples)")
    image_url_ttl: float = Field(3600, gt=0, description="seconds an image answered by url stays fetchable")


class RequestLogSettings(BaseModel):
    flush_interval: float = Field(0.25, gt=0)
    batch_size: int = Field(500, ge=1)
    max_pending: int = Field(50_000, ge=1)


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``GET /metrics``."""

    enabled: bool = True
    public: bool = Field(
        False, description="scrape without a key (only where /metrics is reachable from a private network alone)"
    )


class TracingSettings(BaseModel):
    """OpenTelemetry traces of every request (off by default)."""

    enabled: bool = False
    exporter: Literal["otlp", "memory"] = Field("otlp", description="memory: kept in the process (tests, debugging)")
    otlp_endpoint: str = Field("http://127.0.0.1:4318/v1/traces", description="an OTLP/HTTP collector's traces URL")
    service_name: str = "cluster"


class AuthSettings(BaseModel):
    required: bool = Field(True, description="inference needs an API key (or, later, an x402 payment)")
    key_secret: SecretStr | None = Field(
        None, description="HMAC secret for API-key hashes; default: generated once into <data_dir>/key_secret"
    )
    cache_ttl: float = Field(2.0, ge=0, description="seconds a looked-up key is trusted before re-reading it")
    dev_credit: int = Field(
        10_000_000,
        ge=0,
        le=10**15,
        description="micro-USDC credited to the first admin by `cluster admin init` on the embedded default (SQLite "
        "in the data dir), so the README's first call works; never with a configured database_url",
    )


class BillingSettings(BaseModel):
    default_max_tokens: int = Field(
        4096, ge=1, description="output cap used for the hold (and sent upstream) when a request sets none"
    )
    hold_ttl: float = Field(
        21_600.0, gt=0, description="seconds after which an unsettled hold of a live process is released"
    )
    lease_size: int = Field(
        100_000, ge=1, description="micro-USDC a process reserves per account at a time (see billing/leases.py)"
    )
    lease_idle: float = Field(1.0, gt=0, description="seconds unused before a lease goes back to the balance")
    lease_flush: float = Field(0.05, gt=0, description="seconds between postings of leased spend")
    heartbeat_interval: float = Field(5.0, gt=0)
    sweep_interval: float = Field(10.0, gt=0)


class LimitSettings(BaseModel):
    key_rpm: int | None = Field(600, ge=1, description="requests per minute per key (None: unlimited)")
    key_tpm: int | None = Field(2_000_000, ge=1, description="tokens per minute per key")
    ip_rpm: int | None = Field(6000, ge=1, description="requests per minute per client IP")
    fail_open: bool = Field(True, description="when Redis is unreachable: admit (True) or refuse with 503")


class ContractAddresses(BaseModel):
    """Where Cluster's contracts live on a configured chain (the dev chain writes its own to the data dir)."""

    usdc: str
    payment_router: str | None = None
    dataset_registry: str | None = None
    dataset_nft: str | None = None
    deposits: str | None = None
    token: str | None = None
    compose_registry: str | None = Field(
        None, description="the ComposeRegistry confidential providers are checked against"
    )
    identity_registry: str | None = Field(
        None,
        description="ERC-8004 IdentityRegistry (agents); on Base mainnet the canonical one is "
        "0x8004A169FB4a3325136EB29fA0ceB6D2e539a432",
    )
    reputation_registry: str | None = Field(
        None, description="ERC-8004 ReputationRegistry; on Base mainnet 0x8004BAa17C55a88189AE136b182e5fdA19dE9b63"
    )
    validation_registry: str | None = Field(
        None, description="ERC-8004 ValidationRegistry (no canonical deployment yet: ours, or a compatible one)"
    )
    treasury: str | None = None
    start_block: int = Field(0, ge=0, description="the indexer starts here (the deployment block)")


class DevChainSettings(BaseModel):
    """The embedded dev chain: anvil (from the npm package @foundry-rs/anvil) on 127.0.0.1."""

    port: int = Field(8545, ge=0, le=65535)
    anvil_path: Path | None = Field(None, description="default: node_modules/@foundry-rs/anvil-<platform>/bin/anvil")
    chain_id: int = 31337
    fund_usdc: int = Field(1_000_000 * 10**6, ge=0, description="TestUSDC (base units) minted to each dev account")
    state_interval: int = Field(1, ge=1, description="seconds between state dumps (a kill -9 loses at most this)")


class ChainSettings(BaseModel):
    enabled: bool = True
    rpc_url: str | None = Field(None, description="JSON-RPC endpoint; None starts the embedded dev chain")
    chain_id: int | None = Field(None, description="expected chain id (8453 Base, 84532 Base Sepolia); checked")
    addresses: ContractAddresses | None = Field(None, description="deployed contracts (required for rpc_url)")
    signer_key: SecretStr | None = Field(None, description="the service's own hex private key (dev: anvil's #0)")
    confirmations: int | None = Field(
        None, ge=0, description="blocks an event must be buried under before it is indexed (default: 0 dev, 3)"
    )
    poll_interval: float = Field(1.0, gt=0, description="seconds between indexer polls")
    max_block_range: int = Field(2000, ge=1, description="blocks per eth_getLogs call")
    eth_price: int | None = Field(
        None, ge=1, description="micro-USDC credited per 1 ETH deposited (None: ETH deposits are kept, not credited)"
    )
    dev: DevChainSettings = DevChainSettings()

    @property
    def embedded(self) -> bool:
        return self.rpc_url is None

    @property
    def required_confirmations(self) -> int:
        if self.confirmations is not None:
            return self.confirmations
        return 0 if self.embedded else 3

    @model_validator(mode="after")
    def _real_chain_needs_addresses(self) -> ChainSettings:
        if self.enabled and self.rpc_url is not None and self.addresses is None:
            raise ValueError("chain.rpc_url needs chain.addresses (deploy with `cluster chain deploy`)")
        return self


class X402Settings(BaseModel):
    """Pay-per-request with a signed USDC authorization (x402), instead of an API key."""

    enabled: bool = Field(True, description="offer x402 on paid endpoints (needs the chain layer)")
    pay_to: str | None = Field(None, description="address paid (default: the deployment's treasury)")
    max_timeout_seconds: int = Field(300, ge=10, description="how long a signed payment may stay valid")
    safety_margin: int = Field(
        6, ge=0, description="seconds an authorization must still be valid for when it is verified (as the spec)"
    )
    default_max_tokens: int = Field(
        1024, ge=1, description="output cap priced (and sent upstream) when an x402 chat request sets none"
    )
    facilitator_url: str | None = Field(None, description="a remote facilitator; None settles in-process")
    facilitator_key: SecretStr | None = Field(None, description="bearer token for the remote facilitator")
    public_settle: bool = Field(
        False, description="let anyone call POST /x402/settle (it spends the service's gas); else admins only"
    )


class StorageSettings(BaseModel):
    """Where dataset blocks live and the keys that seal them."""

    backend: Literal["embedded", "kubo"] = Field(
        "embedded", description="embedded: files under <data_dir>/blocks; kubo: a kubo node's HTTP RPC (kubo_url)"
    )
    kubo_url: str = Field("http://127.0.0.1:5001", description="kubo's RPC address, for backend = kubo")
    pinning_url: str | None = Field(
        None, description="a Pinata-style pinning API (e.g. https://api.pinata.cloud) to replicate datasets to"
    )
    pinning_jwt: SecretStr | None = Field(None, description="bearer token for the pinning API")
    max_upload_bytes: int = Field(100 * 1024**3, ge=1, description="largest dataset upload")
    master_keys: dict[str, SecretStr] = Field(
        {}, description="id -> base64 32-byte key wrapping dataset keys; default: generated into <data_dir>/master_key"
    )
    current_master: str | None = Field(None, description="which master key wraps new dataset keys")
    preview_rows: int = Field(5, ge=0, description="rows (or file names) a signed-in user may preview")


class FineTuneSettings(BaseModel):
    """Fine-tuning jobs: LoRA on the local base model in a worker process, or forwarded to a remote trainer."""

    enabled: bool = True
    trainer: Literal["local", "remote"] = Field(
        "local", description="local: LoRA in a worker process here; remote: an OpenAI-compatible fine-tuning API"
    )
    remote_url: str | None = Field(None, description="the remote trainer's base URL (…/v1), for trainer = remote")
    remote_key: SecretStr | None = Field(None, description="bearer token for the remote trainer")
    max_concurrent_jobs: int = Field(1, ge=1, description="jobs trained at once by each service process")
    threads: int | None = Field(None, ge=1, description="torch threads per training worker (default: all cores)")
    poll_interval: float = Field(2.0, gt=0, description="seconds between looks for queued or orphaned jobs")
    heartbeat_timeout: float = Field(
        60.0, gt=0, description="seconds without a heartbeat after which a running job is taken over and resumed"
    )
    max_attempts: int = Field(3, ge=1, description="starts of a job (first run + resumes) before it fails")
    checkpoint_every: int = Field(10, ge=1, description="training steps between resume states")
    learning_rate: float = Field(1e-3, gt=0, description="multiplied by the job's learning_rate_multiplier")
    default_epochs: int = Field(3, ge=1, le=50)
    default_batch_size: int = Field(4, ge=1, le=256)
    lora_rank: int = Field(8, ge=1, le=256)
    lora_alpha: int = Field(16, ge=1)
    max_length: int = Field(512, ge=16, description="tokens per training example (longer ones are cut)")
    max_file_bytes: int = Field(512 * 1024**2, ge=1, description="largest file accepted by POST /v1/files")
    royalty_bps: int = Field(
        1000, ge=0, le=10_000, description="share of each billed call of a model trained on a dataset, to its holder"
    )
    training_price: int = Field(
        0, ge=0, description="micro-USDC per 1M trained tokens (0: training is free); the bound is charged up front"
    )
    max_loaded_models: int = Field(4, ge=1, description="fine-tuned models kept loaded per process (LRU)")
    base_cache: Path | None = Field(
        None, description="de-quantized copies of base GGUFs for training (default: <data_dir>/finetune/bases)"
    )
    run_jobs: bool = Field(True, description="this process trains queued jobs (false: API only, e.g. gateway replicas)")
    royalty_payout_interval: float | None = Field(
        3600.0,
        gt=0,
        description="seconds between on-chain royalty payouts (None: only POST /v1/admin/royalties/payout)",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLUSTER_", env_nested_delimiter="__", extra="ignore", toml_file=None)

    data_dir: Path = Path(".cluster")
    database_url: str | None = None
    server: ServerSettings = ServerSettings()
    router: RouterSettings = RouterSettings()
    local: LocalModelSettings = LocalModelSettings()
    media: MediaSettings = MediaSettings()
    request_log: RequestLogSettings = RequestLogSettings()
    auth: AuthSettings = AuthSettings()
    billing: BillingSettings = BillingSettings()
    limits: LimitSettings = LimitSettings()
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
    chain: ChainSettings = ChainSettings()
    x402: X402Settings = X402Settings()
    storage: StorageSettings = StorageSettings()
    finetune: FineTuneSettings = FineTuneSettings()
    hub: HubSettings = HubSettings()
    agents: AgentSettings = AgentSettings()
    redis_url: str | None = None
    providers: list[ProviderConfig] = []
    models: list[ModelConfig] = []

    @field_validator("providers")
    @classmethod
    def _provider_names_unique(cls, value: list[ProviderConfig]) -> list[ProviderConfig]:
        names = [provider.name for provider in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"provider names must be unique: {twice} used more than once")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> Settings:
        """Settings from a TOML file (if it exists), the environment, and explicit overrides."""
        path = config or Path(os.environ.get("CLUSTER_CONFIG", "cluster.toml"))
        if config is not None and not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        toml_config = SettingsConfigDict(**{**cls.model_config, "toml_file": path if path.is_file() else None})
        bound = type("Settings", (cls,), {"model_config": toml_config})
        settings: Settings = bound(**overrides)
        return settings

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cluster.db').resolve()}"
