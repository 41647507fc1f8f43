"""`pingbiao audit export|verify|check|replay`: the offline bundle of the audit log, the full check
of the installation's stored log, a tender's tally recomputed (docs/audit-log.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web.cli.installation import existing_log
from web.config import Settings


def add_audit_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `audit export` and `audit verify` on the top-level subparsers."""
    audit = sub.add_parser("audit", help="export or verify the tamper-evident audit log (审计日志)")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = asub.add_parser("export", help="write an offline bundle of the log at its latest checkpoint")
    add_common(p)
    p.add_argument("out", metavar="OUT", help="a new (or empty) directory for the bundle")
    p.add_argument("--recordings", action="store_true",
                   help="also copy the booth's recordings (OUT/recordings/<room>/) and their archive (OUT/archive/)")
    p = asub.add_parser("verify", help="verify a bundle offline: entries, root, signature, consistency")
    add_common(p)
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle directory")
    p.add_argument("--since", metavar="OLD_CHECKPOINT_FILE", help="an older signed checkpoint the log must extend")
    p.add_argument("--strict", action="store_true", help="also decode every leaf and require its canonical form")
    p.add_argument("--recordings", metavar="DIR",
                   help="also check the booth's recordings in DIR (one directory per room) against the logged checkpoints")
    p.add_argument("--archive", metavar="DIR",
                   help="with --recordings: also check the playable archive in DIR (default BUNDLE/archive, if there)")
    p = asub.add_parser("check", help="check the installation's stored log in full against its signed checkpoint")
    add_common(p)
    p = asub.add_parser("replay", help="recompute a tender's tally from the log and compare it with the stored one")
    add_common(p)
    p.add_argument("tender", metavar="TENDER", help="the tender id")
    p.add_argument("--bundle", metavar="DIR", help="read a verified offline bundle instead of the installation's log")


def run_audit_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `audit <action>`. A DomainError prints one line and returns 1; CryptoError and OSError
    propagate to web.cli.main, which prints them the same way."""
    from evaluation.errors import DomainError

    try:
        if args.audit_command == "export":
            code = asyncio.run(_export(Path(args.out), settings))
            if code == 0 and args.recordings:
                from web.cli.recordings import export_recordings

                print(export_recordings(Path(args.out), settings))
            return code
        if args.audit_command == "check":
            return asyncio.run(_check(settings))
        if args.audit_command == "replay":
            return asyncio.run(_replay(args.tender, Path(args.bundle) if args.bundle else None, settings))
        code = _verify(Path(args.bundle), Path(args.since) if args.since else None, args.strict)
        if code == 0 and args.recordings:
            from web.cli.recordings import check_recordings

            report = check_recordings(Path(args.bundle), Path(args.recordings))
            print(report.text, file=sys.stdout if report.ok else sys.stderr)
            code = 0 if report.ok else 1
            archive = Path(args.archive) if args.archive else Path(args.bundle) / "archive"
            if code == 0 and (args.archive or archive.is_dir()):
                from web.cli.recordings import check_archive

                report = check_archive(Path(args.bundle), archive)
                print(report.text, file=sys.stdout if report.ok else sys.stderr)
                code = 0 if report.ok else 1
        return code
    except DomainError as exc:
        print(f"pingbiao: error: {exc}", file=sys.stderr)
        return 1


async def _export(out: Path, settings: Settings) -> int:
    from evaluation.audit.bundle import export_bundle

    async with existing_log(settings) as (_engine, log, vkey):
        report = await export_bundle(log, out, vkey)
    print(f"exported {report.size} entries, root {report.root.hex()}, to {out}")
    return 0


async def _check(settings: Settings) -> int:
    """Every stored entry against its leaf, every node recomputed, the root against the signed
    checkpoint (the start-up check from entry 0). Reads only: safe next to a running server."""
    async with existing_log(settings) as (_engine, log, _vkey):
        report = await log.check_everything()
    print(f"ok: {report.size} entries match their leaves and the tree of the signed checkpoint, root {report.root.hex()}")
    return 0


async def _replay(tender_id: str, bundle: Path | None, settings: Settings) -> int:
    """Print the ranking recomputed from the log and "ok", or the first difference (exit 1)."""
    from evaluation.session import replay as session_replay

    evaluation = tender_id  # a tender, or a lot's evaluation <tender>.<lot>
    tender_id, lot = session_replay.split(evaluation)
    if bundle is not None:
        from evaluation.audit.bundle import verify_bundle

        verify_bundle(bundle)
        result = session_replay.check(session_replay.bundle_entries(bundle, tender_id), None, lot)
    else:
        async with existing_log(settings) as (engine, log, _vkey):
            entries = await log.entries_for_tender(tender_id)
            result = session_replay.check(entries, await session_replay.stored_tally(engine, evaluation), lot)
    print(result.text)
    return 0 if result.ok else 1


def _verify(bundle: Path, since: Path | None, strict: bool) -> int:
    from evaluation.audit.bundle import verify_bundle

    progress = _progress if sys.stderr.isatty() else None
    try:
        report = verify_bundle(bundle, since.read_bytes() if since else None, progress, strict=strict)
    finally:
        if progress is not None:
            print(file=sys.stderr)
    since_text = f", consistent with the checkpoint at {report.since_size}" if report.since_size is not None else ""
    print(f"ok: {report.size} entries, root {report.root.hex()}, checkpoint signed by {report.signer}{since_text}")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\rverifying: {done}/{total} entries", end="", file=sys.stderr, flush=True)
