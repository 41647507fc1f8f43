"""Run `python -m signaling` in a subprocess for tests across processes; wait for its ready line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    """A running `python -m signaling`: its ws:// base URL and the process (tests may kill it)."""

    url: str
    proc: asyncio.subprocess.Process


@asynccontextmanager
async def signaling_server_process(secret: bytes, *args: str) -> AsyncIterator[ServerProcess]:
    """A signaling server process on 127.0.0.1 (port chosen by the OS), stopped at the end."""
    env = {**os.environ, "PINGBIAO_SIGNALING_SECRET": secret.hex(), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling", "--host", "127.0.0.1", "--port", "0", *args,
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20.0)).decode().split()
        assert line[:1] == ["listening"], f"signaling process did not start: {line}"
        yield ServerProcess(f"ws://127.0.0.1:{line[2]}", proc)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@asynccontextmanager
async def signaling_process(secret: bytes, *args: str) -> AsyncIterator[str]:
    """A signaling server process on 127.0.0.1 (port chosen by the OS); yields its ws:// base URL."""
    async with signaling_server_process(secret, *args) as server:
        yield server.url
