"""Cluster Hub: the web app at ``/`` (server-rendered Jinja2 pages, HTMX for partial updates, Chart.js charts,
a little plain JavaScript for the wallet), served by the same process as the API and calling the same domain
services. ``docs/hub.md`` is its guide."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cluster.hub.routes import account, market, public, signin, work
from cluster.hub.web import HERE

ROUTERS = [public.router, signin.router, account.router, market.router, work.router]


def install(app: FastAPI) -> None:
    """The Hub's pages and static files on ``app`` (the browser files under static/vendor come from npm)."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
