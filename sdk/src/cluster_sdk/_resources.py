"""Resources written once for both clients: each method describes its call, and the client's ``call`` runs
it (for ``AsyncCluster``, ``call`` returns an awaitable). Only streaming chat differs per client."""

from __future__ import annotations

import os
from typing import Any, Protocol
from urllib.parse import urlencode

from cluster_sdk._pages import page_of
from cluster_sdk._types import (
    ApiKey,
    Balance,
    ChainDataset,
    ChainInfo,
    CreateEmbeddingResponse,
    Dataset,
    DepositList,
    FileObject,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    ImagesResponse,
    Model,
    RerankResponse,
    ScoreResponse,
    Transcription,
    UsageReport,
)


class _Caller(Protocol):
    def call(self, method: str, path: str, body: dict[str, Any] | None, parse: Any) -> Any: ...

    def send_form(self, method: str, path: str, fields: dict[str, str], upload: Any, parse: Any) -> Any: ...

    def save(self, path: str, destination: Any, headers: dict[str, str] | None = None) -> Any: ...

    def fetch(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        parse: Any,
        *,
        form: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
    ) -> Any: ...


def _query(**params: Any) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(given)}" if given else ""


class Embeddings:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        return self._client.call("POST", "/embeddings", params, CreateEmbeddingResponse.model_validate)


class Speech:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """The audio as bytes: ``model``, ``input``, ``voice``, ``response_format`` (mp3, opus, aac, flac, wav,
        pcm), ``speed``."""
        return self._client.fetch("POST", "/audio/speech", params, lambda response: response.content)


class _Transcribe:
    def __init__(self, client: _Caller, path: str) -> None:
        self._client = client
        self._path = path

    def create(self, *, file: Any, **params: Any) -> Any:
        """``file``: a path, bytes, or ``(filename, bytes)``. A ``Transcription`` for json / verbose_json, the
        text itself for text, srt and vtt."""
        if isinstance(file, tuple):
            upload = file
        elif isinstance(file, bytes | bytearray):
            upload = ("audio", bytes(file))
        else:
            with open(file, "rb") as handle:
                upload = (os.path.basename(str(file)), handle.read())
        form: dict[str, Any] = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        if "timestamp_granularities" in form:
            form["timestamp_granularities[]"] = form.pop("timestamp_granularities")
        return self._client.fetch("POST", self._path, None, _transcript, form=form, files={"file": upload})


def _transcript(response: Any) -> Any:
    if response.headers.get("content-type", "").startswith("application/json"):
        return Transcription.model_validate(response.json())
    return response.text


class Audio:
    def __init__(self, client: _Caller) -> None:
        self.speech = Speech(client)
        self.transcriptions = _Transcribe(client, "/audio/transcriptions")
        self.translations = _Transcribe(client, "/audio/translations")


class Images:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def generate(self, **params: Any) -> Any:
        """``prompt``, ``model``, ``n``, ``size``, ``response_format`` (b64_json or url)."""
        return self._client.call("POST", "/images/generations", params, ImagesResponse.model_validate)


class Rerank:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """``model``, ``query``, ``documents`` (strings or ``{"text": …}``), ``top_n``, ``return_documents``."""
        return self._client.call("POST", "/rerank", params, RerankResponse.model_validate)


class Score:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """``model``, ``text_1`` (one text or a list), ``text_2`` (a list, or one text per ``text_1``)."""
        return self._client.call("POST", "/score", params, ScoreResponse.model_validate)


class Models:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def list(self) -> Any:
        return self._client.call("GET", "/models", None, page_of(Model.model_validate))

    def retrieve(self, model: str) -> Any:
        return self._client.call("GET", f"/models/{model}", None, Model.model_validate)


class Keys:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        """``name``, ``scopes``, ``models``, ``expires_in_days``, ``rpm``, ``tpm``, ``user_id`` (admin)."""
        return self._client.call("POST", "/keys", params, ApiKey.model_validate)

    def list(self, user_id: str | None = None) -> Any:
        return self._client.call("GET", f"/keys{_query(user_id=user_id)}", None, page_of(ApiKey.model_validate))

    def revoke(self, key_id: str) -> Any:
        return self._client.call("DELETE", f"/keys/{key_id}", None, ApiKey.model_validate)


class Balances:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def retrieve(self, user_id: str | None = None) -> Any:
        return self._client.call("GET", f"/balance{_query(user_id=user_id)}", None, Balance.model_validate)


class Usage:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def retrieve(self, start: str, end: str, group_by: str = "model,day", key_id: str | None = None) -> Any:
        query = _query(start=start, end=end, group_by=group_by, key_id=key_id)
        return self._client.call("GET", f"/usage{query}", None, UsageReport.model_validate)


class Chain:
    """The settlement chain: contract addresses, datasets on chain, and deposits into the caller's balance."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def info(self) -> Any:
        return self._client.call("GET", "/chain/info", None, ChainInfo.model_validate)

    def dataset(self, dataset: int | str) -> Any:
        """By token id or registry slug."""
        return self._client.call("GET", f"/chain/datasets/{dataset}", None, ChainDataset.model_validate)

    def deposits(self, user_id: str | None = None) -> Any:
        """The deposit reference to pass to ``Deposits.deposit`` on chain, and the deposits seen so far."""
        return self._client.call("GET", f"/chain/deposits{_query(user_id=user_id)}", None, DepositList.model_validate)


class Progress:
    """A file object that reports how much of it has been read (sent)."""

    def __init__(self, handle: Any, report: Any) -> None:
        self._handle, self._report, self.sent = handle, report, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size)
        self.sent += len(data)
        self._report(self.sent)
        return data


class Datasets:
    """The data marketplace: publish (upload → encrypt → CID → mint), browse, preview, download."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(
        self,
        file: str | os.PathLike[str],
        *,
        name: str,
        slug: str,
        price: int,
        category: str,
        wallet: str,
        license: str = "proprietary",
        description: str = "",
        format: str | None = None,
        progress: Any = None,
    ) -> Any:
        """Upload and mint. ``price`` in micro-USDC; ``wallet`` receives the NFT (and the 85%);
        ``progress(bytes_sent)`` is called as the file goes out."""
        fields = {
            "name": name,
            "slug": slug,
            "price": str(price),
            "category": category,
            "wallet": wallet,
            "license": license,
            "description": description,
        }
        if format:
            fields["format"] = format
        return self._client.send_form("POST", "/datasets", fields, (file, progress), Dataset.model_validate)

    def list(
        self, category: str | None = None, q: str | None = None, sort: str = "newest", limit: int = 20, offset: int = 0
    ) -> Any:
        query = _query(category=category, q=q, sort=sort, limit=limit, offset=offset)

        def following(_: dict[str, Any], items: list[Any]) -> Any:
            return self.list(category, q, sort, limit, offset + len(items))

        return self._client.call("GET", f"/datasets{query}", None, page_of(Dataset.model_validate, following))

    def retrieve(self, slug: str) -> Any:
        return self._client.call("GET", f"/datasets/{slug}", None, Dataset.model_validate)

    def preview(self, slug: str) -> Any:
        return self._client.call("GET", f"/datasets/{slug}/preview", None, lambda d: d["rows"])

    def download(
        self, slug: str, destination: str | os.PathLike[str], *, start: int | None = None, end: int | None = None
    ) -> Any:
        """Save the bytes (or ``[start, end)`` of them) to ``destination``; returns how many were written."""
        headers = {} if start is None else {"range": f"bytes={start}-{'' if end is None else end - 1}"}
        return self._client.save(f"/datasets/{slug}/download", destination, headers)

    def earnings(self) -> Any:
        return self._client.call("GET", "/creators/me/earnings", None, lambda d: d)


class Wallets:
    """Wallets linked to your account: what you bought or hold with them, you may read here."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def link(self, private_key: str, user_id: str) -> Any:
        """Sign the link message with the wallet's key (needs eth-account) and link it to ``user_id``."""
        import time

        from eth_account import Account
        from eth_account.messages import encode_defunct

        account, issued = Account.from_key(private_key), int(time.time())
        text = f"Link this wallet to Cluster account {user_id}\nWallet: {account.address.lower()}\nIssued at: {issued}"
        signature = Account.sign_message(encode_defunct(text=text), private_key).signature
        body = {"address": account.address, "issued_at": issued, "signature": "0x" + bytes(signature).hex()}
        return self._client.call("POST", "/wallets", body, lambda d: d)

    def list(self) -> Any:
        return self._client.call("GET", "/wallets", None, lambda d: d)


class Files:
    """Training data for fine-tuning (chat JSONL), checked line by line on upload."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(self, file: str | os.PathLike[str], purpose: str = "fine-tune", progress: Any = None) -> Any:
        return self._client.send_form(
            "POST", "/files", {"purpose": purpose}, (file, progress), FileObject.model_validate
        )

    def list(self, purpose: str | None = None, limit: int | None = None, after: str | None = None) -> Any:
        def following(_: dict[str, Any], items: list[Any]) -> Any:
            return self.list(purpose, limit, items[-1].id)

        query = _query(purpose=purpose, limit=limit, after=after)
        return self._client.call("GET", f"/files{query}", None, page_of(FileObject.model_validate, following))

    def retrieve(self, file_id: str) -> Any:
        return self._client.call("GET", f"/files/{file_id}", None, FileObject.model_validate)

    def content(self, file_id: str, destination: str | os.PathLike[str]) -> Any:
        return self._client.save(f"/files/{file_id}/content", destination)

    def delete(self, file_id: str) -> Any:
        return self._client.call("DELETE", f"/files/{file_id}", None, lambda d: d)


class FineTuningJobs:
    def __init__(self, client: _Caller) -> None:
        self._client = client

    def create(
        self,
        *,
        model: str,
        training_file: str | None = None,
        dataset: str | None = None,
        validation_file: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
        seed: int | None = None,
        public: bool = False,
    ) -> Any:
        """Train ``model`` on an uploaded ``training_file`` or a marketplace ``dataset`` you hold access to."""
        body: dict[str, Any] = {"model": model, "public": public}
        optional = {
            "training_file": training_file,
            "dataset": dataset,
            "validation_file": validation_file,
            "hyperparameters": hyperparameters,
            "suffix": suffix,
            "seed": seed,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._client.call("POST", "/fine_tuning/jobs", body, FineTuningJob.model_validate)

    def list(self, limit: int = 20, after: str | None = None) -> Any:
        def following(_: dict[str, Any], items: list[Any]) -> Any:
            return self.list(limit, items[-1].id)

        query = _query(limit=limit, after=after)
        return self._client.call(
            "GET", f"/fine_tuning/jobs{query}", None, page_of(FineTuningJob.model_validate, following)
        )

    def retrieve(self, job_id: str) -> Any:
        return self._client.call("GET", f"/fine_tuning/jobs/{job_id}", None, FineTuningJob.model_validate)

    def cancel(self, job_id: str) -> Any:
        return self._client.call("POST", f"/fine_tuning/jobs/{job_id}/cancel", None, FineTuningJob.model_validate)

    def list_events(self, job_id: str, limit: int = 20, after: str | None = None) -> Any:
        """Newest first, as OpenAI's."""

        def following(_: dict[str, Any], items: list[Any]) -> Any:
            return self.list_events(job_id, limit, items[-1].id)

        query = _query(limit=limit, after=after)
        parse = page_of(FineTuningEvent.model_validate, following)
        return self._client.call("GET", f"/fine_tuning/jobs/{job_id}/events{query}", None, parse)

    def checkpoints(self, job_id: str) -> Any:
        parse = page_of(FineTuningCheckpoint.model_validate)
        return self._client.call("GET", f"/fine_tuning/jobs/{job_id}/checkpoints", None, parse)


class FineTuning:
    def __init__(self, client: _Caller) -> None:
        self.jobs = FineTuningJobs(client)


from cluster_sdk._tee import Tee  # noqa: E402


def attach(client: Any, wallet: Any, max_payment: Any, max_total: Any) -> None:
    """The resources both clients expose, and the wallet that pays their 402s."""
    from cluster_sdk._wallet import Wallet

    client.embeddings = Embeddings(client)
    client.audio = Audio(client)
    client.images = Images(client)
    client.rerank = Rerank(client)
    client.score = Score(client)
    client.models = Models(client)
    client.keys = Keys(client)
    client.balance = Balances(client)
    client.usage = Usage(client)
    client.chain = Chain(client)
    client.datasets = Datasets(client)
    client.wallets = Wallets(client)
    client.files = Files(client)
    client.fine_tuning = FineTuning(client)
    client.tee = Tee(client)
    client.wallet = (
        wallet
        if isinstance(wallet, Wallet) or wallet is None
        else Wallet(wallet, max_payment=max_payment, max_total=max_total)
    )
