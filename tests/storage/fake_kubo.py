"""FakeKuboRPC: a stand-in for a kubo node's HTTP RPC, the block endpoints only.

A fake, because kubo cannot run here: its npm package downloads the binary at install time (refused), and
js-ipfs 0.66.1, the registries' only kubo-RPC-compatible node, installs but does not start on Node 20
(``Promise.withResolvers`` is missing; polyfilled, libp2p then refuses every transport). It follows kubo's
documented RPC (POST, query arguments, multipart ``data``, ``{"Key", "Size"}`` answers, 500 + ``{"Message"}``
for a missing block) so ``KuboBlockstore`` runs its real code path against it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cluster.storage.cid import CID

CODECS = {"raw": 0x55, "dag-pb": 0x70}


def fake_kubo_app() -> Starlette:
    blocks: dict[str, bytes] = {}
    pins: set[str] = set()

    async def put(request: Request) -> Response:
        form = await request.form()
        data: Any = form["data"]
        block = await data.read()
        cid = str(CID(CODECS[request.query_params.get("cid-codec", "raw")], hashlib.sha256(block).digest()))
        blocks[cid] = block
        if request.query_params.get("pin") == "true":
            pins.add(cid)
        return JSONResponse({"Key": cid, "Size": len(block)})

    def missing(cid: str) -> Response:
        return JSONResponse({"Message": f"block {cid} not found", "Code": 0, "Type": "error"}, status_code=500)

    async def get(request: Request) -> Response:
        cid = request.query_params["arg"]
        return Response(blocks[cid]) if cid in blocks else missing(cid)

    async def stat(request: Request) -> Response:
        cid = request.query_params["arg"]
        return JSONResponse({"Key": cid, "Size": len(blocks[cid])}) if cid in blocks else missing(cid)

    async def remove(request: Request) -> Response:
        cid = request.query_params["arg"]
        if cid in pins:
            return JSONResponse({"Message": "pinned: direct", "Code": 0, "Type": "error"}, status_code=500)
        blocks.pop(cid, None)
        return JSONResponse({"Hash": cid, "Error": ""})

    async def unpin(request: Request) -> Response:
        pins.discard(request.query_params["arg"])
        return JSONResponse({"Pins": [request.query_params["arg"]]})

    app = Starlette(
        routes=[
            Route("/api/v0/block/put", put, methods=["POST"]),
            Route("/api/v0/block/get", get, methods=["POST"]),
            Route("/api/v0/block/stat", stat, methods=["POST"]),
            Route("/api/v0/block/rm", remove, methods=["POST"]),
            Route("/api/v0/pin/rm", unpin, methods=["POST"]),
        ]
    )
    app.state.blocks = blocks
    return app
