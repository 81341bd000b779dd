import asyncio
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, select, text

from cluster.app import create_app
from cluster.db import make_engine, upgrade
from cluster.db.migrate import alembic_config
from cluster.metering import RequestLogWriter, RequestRecord, Usage
from cluster.metering.models import RequestLog
from cluster.settings import RequestLogSettings
from tests.conftest import make_settings, mock_provider
from tests.support import MockUpstream


async def test_migrations_reach_head_idempotently_even_concurrently(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        await upgrade(engines[0])
        async with engines[0].connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert (await connection.execute(select(func.count()).select_from(RequestLog))).scalar_one() == 0
    finally:
        for engine in engines:
            await engine.dispose()


async def test_writer_batches_rows_into_few_inserts(database_url: str) -> None:
    engine = make_engine(database_url)
    await upgrade(engine)
    inserts: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO REQUEST_LOG"):
            inserts.append(1)  # one statement: a multi-row INSERT … RETURNING id (idempotent by request id)

    writer = RequestLogWriter(engine, RequestLogSettings(flush_interval=0.05, batch_size=100))
    writer.start()
    try:
        for i in range(250):
            writer.record(
                RequestRecord(
                    id=f"r{i}",
                    endpoint="chat.completions",
                    model="m",
                    status=200,
                    provider="p",
                    usage=Usage(i, 2 * i),
                )
            )
        await asyncio.sleep(0.3)
        await writer.stop()
        assert writer.written == 250 and writer.dropped == 0
        assert len(inserts) <= 6, f"expected a few batched INSERTs, got {len(inserts)}"
        async with engine.connect() as connection:
            assert (await connection.execute(select(func.count()).select_from(RequestLog))).scalar_one() == 250
            total = (await connection.execute(select(func.sum(RequestLog.completion_tokens)))).scalar_one()
            assert total == 2 * sum(range(250))
    finally:
        await engine.dispose()


async def test_requests_through_the_app_are_logged_with_metadata(
    database_url: str, tmp_path: Path, mock_upstream: MockUpstream
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        local={"enabled": False},
        providers=[mock_provider("up", mock_upstream)],
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as http:
            ok = await http.post(
                "/v1/chat/completions",
                json={"model": "mock-model", "messages": [{"role": "user", "content": "x"}]},
            )
            streamed = await http.post(
                "/v1/chat/completions",
                json={"model": "mock-model", "messages": [{"role": "user", "content": "x"}], "stream": True},
            )
            missing = await http.post(
                "/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]}
            )
        services = app.state.services
        await services.request_log.flush()
        async with services.engine.connect() as connection:
            rows = {r.id: r for r in (await connection.execute(select(RequestLog))).all()}
    assert rows[ok.headers["x-request-id"]].provider == "up"
    assert rows[ok.headers["x-request-id"]].completion_tokens == 8
    stream_row = rows[streamed.headers["x-request-id"]]
    assert stream_row.stream and stream_row.completion_tokens == 8 and not stream_row.usage_estimated
    assert stream_row.ttft_ms is not None and stream_row.ttft_ms <= stream_row.latency_ms
    assert missing.status_code == 404
    assert [r for r in rows.values() if r.status == 404 and r.error_code == "model_not_found"]
