"""The `pingbiao` command line: serve the platform, run the local beacon, seal and unseal bids.

Every expected failure prints one line `pingbiao: error: …` and exits non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from crypto.errors import CryptoError
from evaluation.errors import DomainError
from web.config import ConfigError, Settings, load_settings
from web.errors import UsageError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where this installation keeps all its state (env PINGBIAO_DATA_DIR)")


def _add_beacon_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beacon", metavar="URL", help="a drand HTTP endpoint, e.g. http://127.0.0.1:8081")
    p.add_argument("--chain", metavar="HASH", help="the chain hash to use (and pin) at --beacon")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pingbiao",
        description="pingbiao 评标舱 — remote bid evaluation with timelocked bids and a verifiable audit log",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, text in (("serve", "start the platform"), ("demo", "start the platform with demo data")):
        p = sub.add_parser(name, help=text, description=text)
        _add_common(p)
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (default 8080)")
        if name == "demo":
            p.add_argument(
                "--fast", action="store_true",
                help="play one whole tender through the HTTP API on a 1-second beacon in a temporary directory, print the record, exit",
            )

    beacon = sub.add_parser("beacon", help="the local beacon (single-operator trust; see docs/beacon.md)")
    bsub = beacon.add_subparsers(dest="beacon_command", required=True, metavar="ACTION")
    p = bsub.add_parser("init", help="create the local beacon's key and chain")
    _add_common(p)
    p.add_argument("--period", type=int, help="seconds between rounds (default 3)")
    p = bsub.add_parser("serve", help="serve the local beacon over drand's HTTP API")
    _add_common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p = bsub.add_parser("info", help="print the local beacon's chain info")
    _add_common(p)

    p = sub.add_parser("seal", help="timelock-encrypt a file to a beacon round (like drand's tle -e)")
    _add_common(p)
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--round", type=int, help="the beacon round that opens it")
    when.add_argument("--at", metavar="TIME", help="not openable before TIME: ISO 8601, unix seconds, or +30s/+15m/+2h/+1d")
    p.add_argument("input", nargs="?", metavar="IN", help="file to seal (default: standard input)")
    p.add_argument("-o", "--output", metavar="OUT", help="where to write (default: standard output)")
    p.add_argument("-a", "--armor", action="store_true", help="write ASCII armor (PEM) instead of binary")
    _add_beacon_source(p)
    p.add_argument("--chain-info", metavar="FILE", help="chain info JSON, to seal offline")
    p.add_argument("--force", action="store_true", help="allow a round already published (anyone can open it at once)")

    p = sub.add_parser("unseal", help="open a timelocked file once its round has come (like tle -d)")
    _add_common(p)
    p.add_argument("input", nargs="?", metavar="IN", help="file to open (default: standard input)")
    p.add_argument("-o", "--output", metavar="OUT", help="where to write (default: standard output)")
    _add_beacon_source(p)

    _add_audit(sub)
    from web.cli.accounts import add_accounts_commands

    add_accounts_commands(sub, _add_common)
    from web.cli.experts import add_experts_commands

    add_experts_commands(sub, _add_common)
    from web.cli.backup import add_backup_commands

    add_backup_commands(sub, _add_common)
    from web.cli.stack import add_stack_commands

    add_stack_commands(sub, _add_common)
    from web.cli.recordings import add_recordings_commands

    add_recordings_commands(sub, _add_common)
    return parser


def _add_audit(sub: Any) -> None:
    from web.cli.audit import add_audit_commands

    add_audit_commands(sub, _add_common)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k, None) for k in ("data_dir", "host", "port")}
    if getattr(args, "period", None) is not None:
        overrides["beacon_period"] = args.period
    return load_settings(overrides)


def _dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    handler: Callable[[argparse.Namespace, Settings], int]
    if args.command == "demo" and args.fast:
        from web.demo.fast import run_fast_demo

        # Where asked (--data-dir or PINGBIAO_DATA_DIR), so its log can be exported and verified;
        # else a temporary directory, removed afterwards.
        asked = getattr(args, "data_dir", None) is not None or bool(os.environ.get("PINGBIAO_DATA_DIR"))
        return run_fast_demo(settings.data_dir if asked else None)
    if args.command in {"serve", "demo"}:
        from web.cli.serve import run_server

        return run_server(settings, demo=args.command == "demo")
    if args.command == "beacon":
        from web.cli import beacon as cli_beacon

        handler = {"init": cli_beacon.init, "serve": cli_beacon.serve, "info": cli_beacon.info}[args.beacon_command]
        return handler(args, settings)
    if args.command in {"seal", "unseal"}:
        from web.cli import seal as cli_seal

        handler = cli_seal.seal if args.command == "seal" else cli_seal.unseal
        return handler(args, settings)
    if args.command == "experts":
        from web.cli.experts import run_experts_command

        return run_experts_command(args, settings)
    if args.command in {"backup", "restore"}:
        from web.cli.backup import run_backup_command

        return run_backup_command(args, settings)
    if args.command == "stack":
        from web.cli.stack import run_stack_command

        return run_stack_command(args, settings)
    if args.command == "recordings":
        from web.cli.recordings import run_recordings_command

        return run_recordings_command(args, settings)
    if args.command == "accounts":
        from web.cli.accounts import run_accounts_command

        return run_accounts_command(args, settings)
    from web.cli.audit import run_audit_command

    return run_audit_command(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (CryptoError, ConfigError, UsageError, DomainError) as exc:
        print(f"pingbiao: error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"pingbiao: error: 找不到文件 no such file: {exc.filename}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pingbiao: error: 文件操作失败 {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pingbiao: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
