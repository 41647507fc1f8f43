"""A database that is busy answers 503 with Retry-After, never 500: every pooled connection in use
(SQLAlchemy's QueuePool timeout), as an overloaded server meets it, through the real error
middleware and a real engine."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from web.errors import error_middleware


async def test_a_full_connection_pool_is_busy_not_an_error(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}", pool_size=1, max_overflow=0,
                                 pool_timeout=0.2, poolclass=sa.pool.AsyncAdaptedQueuePool)

    async def handler(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            return web.json_response({"one": (await conn.execute(sa.text("select 1"))).scalar()})

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/one", handler)
    client = await aiohttp_client(app)
    try:
        assert (await client.get("/api/one")).status == 200
        async with engine.connect():  # the pool's only connection is taken
            r = await client.get("/api/one")
            body = await r.json()
        assert r.status == 503 and r.headers["Retry-After"] == "1", body
        assert body["error"].startswith("服务器繁忙") and "\n" not in body["error"]
        assert (await client.get("/api/one")).status == 200  # and it is served again once free
    finally:
        await engine.dispose()
