"""Run the signaling server on its own (development, tests across processes, the benchmark).

    python -m signaling --port 0 [--host 127.0.0.1] [--bus redis://127.0.0.1:6379/0 --prefix P] [--log-format json]

The token secret comes from PINGBIAO_SIGNALING_SECRET (hex, ≥ 32 bytes). Prints one line
``listening <host> <port>`` on standard output once it accepts connections; stops on SIGTERM/SIGINT.
Production runs signaling inside web/ instead (`signaling_app` mounted as a sub-application).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from aiohttp import web

from signaling.config import SignalingConfig
from signaling.server import signaling_app
from signaling.tokens import TokenSigner

_PLAIN = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """One JSON object per event with its structured fields (what web/'s `log_format = "json"` writes)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "event": record.getMessage(), **{k: v for k, v in vars(record).items() if k not in _PLAIN}}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


async def _serve(args: argparse.Namespace, config: SignalingConfig) -> None:
    runner = web.AppRunner(signaling_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    print(f"listening {args.host} {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m signaling", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bus", default="", help="empty: in memory; redis://host:port/db")
    p.add_argument("--prefix", default="pingbiao:signaling:")
    p.add_argument("--grace", type=float, default=60.0)
    p.add_argument("--heartbeat", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--burst", type=int, default=200)
    p.add_argument("--capacity", type=int, default=12)
    p.add_argument("--max-message-bytes", type=int, default=64 * 1024)
    p.add_argument("--lease", type=float, default=15.0, help="Redis: seconds a dead process's places outlive it")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    args = p.parse_args(argv)
    secret_hex = os.environ.get("PINGBIAO_SIGNALING_SECRET", "")
    try:
        secret = bytes.fromhex(secret_hex)
        config = SignalingConfig(
            token_secret=secret, capacity=args.capacity, grace=args.grace, heartbeat=args.heartbeat,
            rate=args.rate, burst=args.burst, bus_url=args.bus, bus_prefix=args.prefix,
            max_message_bytes=args.max_message_bytes,
            bus_lease=args.lease,
        )
        TokenSigner(secret)
    except ValueError as exc:
        print(f"signaling: {exc} (set PINGBIAO_SIGNALING_SECRET to ≥ 32 bytes in hex)", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if args.log_format == "json":
        logging.getLogger().handlers[0].setFormatter(JsonLines())
    asyncio.run(_serve(args, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
