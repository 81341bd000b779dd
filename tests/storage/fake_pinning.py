"""FakePinningAPI: a stand-in for a Pinata-style pinning service (it cannot be reached from here: no network).
It follows Pinata's API shape (``POST /pinning/pinFileToIPFS`` multipart ``file`` + ``pinataOptions``,
``{"IpfsHash", "PinSize", "Timestamp"}``; ``DELETE /pinning/unpin/{cid}``) and addresses files the way
``ipfs add --cid-version 1`` does, or, with ``chunker="size-1048576"``, like a service that chunks differently."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cluster.storage.unixfs import UnixfsBuilder


def fake_pinning_app(token: str, chunk_size: int = 256 * 1024) -> Starlette:
    pins: dict[str, int] = {}

    async def pin(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        form = await request.form()
        upload: Any = form["file"]
        builder = UnixfsBuilder(lambda cid, block: None, chunk_size=chunk_size)
        size = 0
        while piece := await upload.read(1 << 20):
            builder.write(piece)
            size += len(piece)
        cid = str(builder.finish().cid)
        pins[cid] = size
        return JSONResponse({"IpfsHash": cid, "PinSize": size, "Timestamp": "2026-11-22T00:00:00Z"})

    async def unpin(request: Request) -> Response:
        pins.pop(request.path_params["cid"], None)
        return Response("OK")

    app = Starlette(
        routes=[
            Route("/pinning/pinFileToIPFS", pin, methods=["POST"]),
            Route("/pinning/unpin/{cid}", unpin, methods=["DELETE"]),
        ]
    )
    app.state.pins = pins
    return app
