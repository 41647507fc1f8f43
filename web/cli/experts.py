"""`pingbiao experts import|list|verify-draw|export|rederive-pool`: the expert pool and the draw from the command line.

``verify-draw`` needs nothing but an audit export (`pingbiao audit export DIR`): it verifies the
bundle, then re-runs the tender's draw (evaluation/experts/verify.py) and prints one line.
``export`` writes a tender's expert-database rows (no names or ID numbers) and ``rederive-pool``
re-derives the draw's eligible pool and exclusion commitments from a bundle and that export
(evaluation/experts/rederive.py).
Also runnable alone: ``python -m web.cli_experts verify-draw TENDER --bundle DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from web.cli.installation import database, installation
from web.config import Settings


def add_experts_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the `experts` actions (import, list, verify-draw, export, rederive-pool) on the top-level subparsers."""
    experts = sub.add_parser("experts", help="the expert pool (专家库) and verifiable draws (随机抽取)")
    esub = experts.add_subparsers(dest="experts_command", required=True, metavar="ACTION")
    p = esub.add_parser("import", help="import experts from a CSV file (columns: docs/experts.md)")
    add_common(p)
    p.add_argument("csv", metavar="CSV", help="UTF-8 CSV file")
    p = esub.add_parser("list", help="list the experts of the pool")
    add_common(p)
    p = esub.add_parser("verify-draw", help="re-run a tender's draw from an audit export alone")
    add_common(p)
    p.add_argument("tender", metavar="TENDER", help="the tender id")
    p.add_argument("--bundle", required=True, metavar="DIR", help="a bundle written by `pingbiao audit export`")
    p.add_argument("--since", metavar="CHECKPOINT",
                   help="an older signed checkpoint you kept (e.g. DIR/checkpoint of an earlier export): refuse a rewritten log")
    p = esub.add_parser("export", help="write what re-deriving a tender's pool needs from the expert database (JSON)")
    add_common(p)
    p.add_argument("--tender", required=True, metavar="TENDER", help="the tender id")
    p.add_argument("out", metavar="FILE", help="the JSON file to write ('-': standard output)")
    p = esub.add_parser("rederive-pool", help="re-derive a tender's eligible pool and exclusions from a bundle and an export")
    add_common(p)
    p.add_argument("bundle", metavar="DIR", help="a bundle written by `pingbiao audit export`")
    p.add_argument("--tender", required=True, metavar="TENDER", help="the tender id")
    p.add_argument("--experts", required=True, metavar="FILE", help="a file written by `pingbiao experts export`")


def run_experts_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `experts <action>`. A mismatch prints one line and returns 1."""
    from evaluation.errors import DomainError

    try:
        if args.experts_command == "verify-draw":
            return _verify(args.tender, Path(args.bundle), None if args.since is None else Path(args.since))
        if args.experts_command == "rederive-pool":
            return _rederive(args.tender, Path(args.bundle), Path(args.experts))
        if args.experts_command == "export":
            return asyncio.run(_export(settings, args.tender, args.out))
        if args.experts_command == "import":
            return asyncio.run(_import(settings, Path(args.csv)))
        return asyncio.run(_list(settings))
    except DomainError as exc:
        print(f"pingbiao: error: {exc}", file=sys.stderr)
        return 1


def _verify(tender: str, bundle: Path, since: Path | None) -> int:
    from evaluation.experts.verify import verify_draw

    print(verify_draw(bundle, tender, None if since is None else since.read_bytes()).summary())
    return 0


def _rederive(tender: str, bundle: Path, experts: Path) -> int:
    from evaluation.experts.rederive import ExportError, rederive_pool

    try:
        text = experts.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ExportError("文件不是 UTF-8 编码：{path}", path=experts) from None
    print(rederive_pool(bundle, tender, text).summary())
    return 0


async def _export(settings: Settings, tender: str, out: str) -> int:
    import json

    from evaluation.experts.draw_service import expert_export

    async with database(settings) as engine:
        obj = await expert_export(engine, tender)
    text = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True)
    if out == "-":
        print(text)
    else:
        Path(out).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {len(obj['experts'])} experts of the pool for tender {tender} to {out}")
    return 0


async def _import(settings: Settings, path: Path) -> int:
    from evaluation.audit.entry import SYSTEM
    from evaluation.experts.pool import import_csv

    async with installation(settings) as (engine, log):
        report = await import_csv(engine, log, path, SYSTEM)
    for line, reason in report.rejected:
        print(f"{path}:{line}: 第 {line} 行未导入：{reason}", file=sys.stderr)
    print(f"已导入 {report.accepted} 位专家，{len(report.rejected)} 行未导入 imported {report.accepted} experts, rejected {len(report.rejected)} rows")
    return 0


async def _list(settings: Settings) -> int:
    from evaluation.experts.pool import list_experts

    async with database(settings) as engine:
        pool = await list_experts(engine)
    for e in pool:
        state = "active" if e.active else "inactive"
        print(f"{e.id}\t{e.name}\t{e.region}\t{';'.join(sorted(e.specialties))}\t{';'.join(sorted(e.sites))}\t{state}")
    if not pool:
        print("the pool is empty: pingbiao experts import experts.csv")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry (the same as `pingbiao experts …`)."""
    from crypto.errors import CryptoError
    from evaluation.errors import DomainError
    from web.config import load_settings

    parser = argparse.ArgumentParser(prog="pingbiao")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir")

    add_experts_commands(sub, add_common)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["experts", *argv])
    try:
        return run_experts_command(args, load_settings({"data_dir": args.data_dir}))
    except (CryptoError, DomainError, OSError) as exc:
        print(f"pingbiao: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
