"""Client for Cluster's OpenAI-compatible API.

from cluster_sdk import Cluster
client = Cluster(base_url="http://127.0.0.1:8000", api_key="sk-cluster-...")
reply = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}])
"""

from cluster_sdk._async_client import AsyncCluster
from cluster_sdk._client import Cluster
from cluster_sdk._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APIStreamError,
    AuthenticationError,
    BadRequestError,
    ClusterSDKError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentLimitError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
)
from cluster_sdk._pages import Page
from cluster_sdk._tee import E2EESession, e2ee_session, new_nonce, verify_receipt
from cluster_sdk._types import (
    ApiKey,
    Balance,
    ChainDataset,
    ChainInfo,
    ChatCompletion,
    ChatCompletionChunk,
    CreateEmbeddingResponse,
    Deposit,
    DepositList,
    FileObject,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    Model,
    Usage,
    UsageReport,
)
from cluster_sdk._wallet import Wallet, usdc

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APIStreamError",
    "ApiKey",
    "AsyncCluster",
    "AuthenticationError",
    "BadRequestError",
    "Balance",
    "ChainDataset",
    "ChainInfo",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Cluster",
    "ClusterSDKError",
    "CreateEmbeddingResponse",
    "Deposit",
    "DepositList",
    "E2EESession",
    "FileObject",
    "FineTuningCheckpoint",
    "FineTuningEvent",
    "FineTuningJob",
    "InternalServerError",
    "Model",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PaymentLimitError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "Usage",
    "UsageReport",
    "Wallet",
    "e2ee_session",
    "new_nonce",
    "usdc",
    "verify_receipt",
]
