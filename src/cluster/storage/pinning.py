"""Replicating finished files to a Pinata-style pinning service, so their CIDs resolve on the public IPFS
network. Blocks stay in the local store (it is what we read from); the pin is the copy the world can fetch.

The service computes the CID itself from the bytes we send; we refuse a pin whose CID differs from ours (a
service chunking differently would otherwise publish another address for the same listing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from cluster.errors import ClusterError
from cluster.storage.cid import CID


class PinningError(ClusterError):
    """The pinning service refused the file or addressed it differently: 502, nothing is kept."""

    status = 502
    code = "pinning_failed"


class _Stream:
    """A read()-able view of an iterator of byte pieces (httpx sends multipart files from file objects)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces, self._buffer = pieces, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


class PinataPinner:
    def __init__(self, url: str, jwt: str, timeout: float = 600.0) -> None:
        self._url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, headers={"authorization": f"Bearer {jwt}"})

    def pin(self, cid: CID, name: str, content: Iterator[bytes]) -> None:
        files: Any = {"file": (name, _Stream(content))}
        response = self._http.post(
            f"{self._url}/pinning/pinFileToIPFS",
            files=files,
            data={"pinataOptions": json.dumps({"cidVersion": 1}), "pinataMetadata": json.dumps({"name": name})},
        )
        if response.status_code != 200:
            raise PinningError(f"the pinning service answered {response.status_code}: {response.text[:200]}")
        pinned = response.json().get("IpfsHash")
        if pinned != str(cid):
            self.unpin(pinned)
            raise PinningError(f"the pinning service addressed the file as {pinned}, not {cid}")

    def unpin(self, cid: CID | str) -> None:
        self._http.delete(f"{self._url}/pinning/unpin/{cid}")

    def close(self) -> None:
        self._http.close()
