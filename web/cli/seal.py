"""`pingbiao seal` and `pingbiao unseal`, shaped like drand's `tle`.

Standard input/output when IN or -o is left out; files are written atomically (nothing that looks
complete is left behind on failure). Progress is shown on a terminal and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from crypto import tlock
from crypto.beacon import LocalBeacon
from crypto.chain import ChainInfo
from crypto.drand import DrandClient
from crypto.errors import RoundNotReachedError, WrongChainError
from web.config import Settings
from web.errors import UsageError

_RELATIVE = re.compile(r"^\+(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now: float | None = None) -> float:
    """Unix time from ISO 8601 (naive = local time), unix seconds, or +N[smhd] from now."""
    now = time.time() if now is None else now
    m = _RELATIVE.match(text.strip())
    if m:
        return now + int(m.group(1)) * _UNITS[m.group(2)]
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        return float(text)
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(f"无法识别时间 cannot read time {text!r}: use ISO 8601 (2026-12-01T09:30+08:00), unix seconds or +15m") from None


def _progress(total: int | None) -> Callable[[int], None] | None:
    """A progress printer for a terminal; None when stderr is not one (piped, CI)."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2:
            return
        last[0] = now
        text = f"{done / 1e6:.1f} MB" + (f" ({100 * done // total}%)" if total else "")
        print(f"\r{text}   ", end="", file=sys.stderr, flush=True)

    return show


def _input_size(path: str | None) -> int | None:
    return os.path.getsize(path) if path else None


def _chain_for_seal(args: argparse.Namespace, settings: Settings) -> ChainInfo:
    if args.chain_info:
        chain = ChainInfo.from_json(Path(args.chain_info).read_text())
        chain.check_hash()
        if args.chain and args.chain.lower() != chain.hash:
            raise WrongChainError(f"--chain-info is chain {chain.hash[:16]}…, not {args.chain[:16]}…")
        return chain
    if args.beacon:
        return asyncio.run(_remote_info(args.beacon, args.chain))
    return LocalBeacon.load(settings.beacon_dir).chain


async def _remote_info(url: str, chain_hash: str | None) -> ChainInfo:
    async with DrandClient(url, chain_hash) as client:
        return await client.info()


def seal(args: argparse.Namespace, settings: Settings) -> int:
    chain = _chain_for_seal(args, settings)
    now = time.time()
    round = args.round if args.round is not None else chain.round_not_before(parse_time(args.at, now))
    if round < 1:
        raise UsageError("轮次从 1 开始 rounds start at 1")
    if chain.time_of(round) <= now and not args.force:
        raise UsageError(f"该轮次已公布，任何人现在都能打开此文件（如仍要密封请加 --force） round {round} has already been published: anyone could open this file now (--force to do it anyway)")
    progress = _progress(_input_size(args.input))
    with _open_in(args.input) as src, _atomic_output(args.output) as dst:
        tlock.seal(src, dst, chain, round, armor=args.armor, progress=progress)
    if progress:
        print("", file=sys.stderr)
    opens = datetime.fromtimestamp(chain.time_of(round)).astimezone().isoformat(timespec="seconds")
    print(f"sealed to round {round} of chain {chain.hash[:16]}…; opens at {opens}", file=sys.stderr)
    return 0


def unseal(args: argparse.Namespace, settings: Settings) -> int:
    with _seekable_input(args.input) as src:
        header = tlock.inspect(src)
        src.seek(0)
        if not header.recipients:
            raise UsageError("此文件不是按时间信标轮次密封的 this age file has no tlock recipient: it was not sealed to a beacon round")
        recipient = header.recipients[0]
        chain, signature = _signature(args, settings, recipient)
        progress = _progress(_input_size(args.input))
        with _atomic_output(args.output) as dst:
            tlock.unseal(src, dst, chain, signature, progress=progress)
        if progress:
            print("", file=sys.stderr)
    return 0


def _signature(args: argparse.Namespace, settings: Settings, recipient: tlock.TlockRecipient) -> tuple[ChainInfo, bytes]:
    if args.beacon:
        return asyncio.run(_remote_signature(args.beacon, args.chain or recipient.chain_hash, recipient.round))
    beacon = LocalBeacon.load(settings.beacon_dir)
    if recipient.chain_hash != beacon.chain.hash:
        raise WrongChainError(
            f"sealed to chain {recipient.chain_hash[:16]}…, but the local beacon is chain {beacon.chain.hash[:16]}…;"
            " give --beacon URL for that chain"
        )
    signature = beacon.signature(recipient.round)
    if signature is None:
        raise RoundNotReachedError(recipient.round, beacon.chain.time_of(recipient.round))
    return beacon.chain, signature


async def _remote_signature(url: str, chain_hash: str, round: int) -> tuple[ChainInfo, bytes]:
    async with DrandClient(url, chain_hash) as client:
        chain = await client.info()
        return chain, (await client.beacon(round)).signature


@contextmanager
def _open_in(path: str | None) -> Iterator[BinaryIO]:
    if not path:
        yield sys.stdin.buffer
        return
    with open(path, "rb") as f:
        yield f


@contextmanager
def _atomic_output(path: str | None) -> Iterator[BinaryIO]:
    """Standard output, or a temporary file renamed onto `path` only when the block succeeds."""
    if not path:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as dst:
            yield dst
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _seekable_input:
    """The input file, or standard input spooled to a temporary file so its header can be read twice."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.f: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.path:
            self.f = open(self.path, "rb")  # noqa: SIM115
        else:
            self.f = tempfile.TemporaryFile()  # noqa: SIM115
            shutil.copyfileobj(sys.stdin.buffer, self.f, 1 << 20)
            self.f.seek(0)
        return self.f

    def __exit__(self, *exc: object) -> None:
        if self.f:
            self.f.close()
