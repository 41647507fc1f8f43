"""Re-running a tender's expert draw from an audit export alone (`pingbiao experts verify-draw`).

Checks, in order, each failure one line: the bundle itself (evaluation.audit.bundle.verify_bundle);
the tender's last ``experts.draw_requested`` and the ``experts.drawn`` after it; the chain info in
the request (its hash); the round is the first after the request entry's time; the beacon
signature of that round under the chain's key (crypto.bls.verify_beacon); the recomputed
``draw.draw(request, SHA-256(signature))`` equals the logged committee and sequence; and each
logged replacement equals ``draw.refill`` of the logged members and decliners.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto import bls
from crypto.chain import ChainInfo
from crypto.errors import CryptoError
from evaluation.audit.bundle import ENTRIES_FILE, verify_bundle
from evaluation.audit.entry import parse_time
from evaluation.errors import DomainError, IntegrityFailure
from evaluation.experts import draw

KINDS = ("experts.draw_requested", "experts.drawn", "experts.replaced", "experts.exhausted")


class DrawMismatch(IntegrityFailure):
    """The logged draw cannot be reproduced; the message names the first mismatch."""


@dataclass(frozen=True)
class DrawCheck:
    tender: str
    round: int
    committee: tuple[str, ...]
    replacements: tuple[str, ...]

    def summary(self) -> str:
        extra = f"; replacements {', '.join(self.replacements)}" if self.replacements else ""
        return f"ok: committee {', '.join(self.committee)} (tender {self.tender}, round {self.round}){extra}"


def _entries(directory: Path, tender: str) -> list[dict[str, Any]]:
    out = []
    with open(directory / ENTRIES_FILE, "rb") as f:
        for line in f:
            obj = json.loads(line)
            if obj.get("tender") == tender and obj.get("kind") in KINDS:
                out.append(obj)
    return out


def verify_draw(directory: Path, tender: str) -> DrawCheck:
    """Verify the bundle in `directory`, then the draw of `tender` in it. Raises DrawMismatch/BundleError."""
    verify_bundle(directory)
    entries = _entries(directory, tender)
    requests = [i for i, e in enumerate(entries) if e["kind"] == "experts.draw_requested"]
    if not requests:
        raise DrawMismatch(f"the bundle has no experts.draw_requested entry for tender {tender}")
    req_entry = entries[requests[-1]]
    later = entries[requests[-1] + 1 :]
    drawn = next((e for e in later if e["kind"] == "experts.drawn"), None)
    if drawn is None:
        raise DrawMismatch(f"the bundle has no experts.drawn entry after the request (entry {req_entry['index']})")
    p = req_entry["payload"]
    try:
        chain = ChainInfo.from_json(p["chain"])
        chain.check_hash()
    except (CryptoError, KeyError, TypeError) as exc:
        raise DrawMismatch(f"the chain info in the request is not usable: {exc}") from None
    try:
        request = draw.DrawRequest.from_json(p["request"])
    except DomainError as exc:
        raise DrawMismatch(exc.message) from None
    if request.to_json() != p["request"] or request.tender != tender:
        raise DrawMismatch(f"the logged request is not the canonical request of tender {tender}")
    expected = chain.round_at(parse_time(req_entry["time"]).timestamp()) + 1
    results = [_check_drawn(e, chain, request, expected, req_entry["index"]) for e in later if e["kind"] == "experts.drawn"]
    result, round = results[0]
    replacements: list[str] = []
    committee = list(result.committee)
    for e in later:
        if e["kind"] not in ("experts.replaced", "experts.exhausted") or e["index"] < drawn["index"]:
            continue
        r = e["payload"]
        gone = set(committee) - set(r["members"])
        if len(gone) != 1 or not set(r["members"]) <= set(committee) or not gone <= set(r["declined"]):
            raise DrawMismatch(f"entry {e['index']}: members {', '.join(r['members'])} do not follow from the committee {', '.join(committee)}")
        try:
            again = list(draw.refill(request, result, r["members"], r["declined"]))
        except draw.TooFewExperts:
            again = None
        logged = r.get("replacements") if e["kind"] == "experts.replaced" else None
        if again != logged:
            raise DrawMismatch(f"entry {e['index']}: logged replacements {logged} differ from the recomputed {again}")
        if logged is None:
            break
        committee = list(r["members"]) + logged
        replacements.extend(logged)
    return DrawCheck(tender, round, result.committee, tuple(replacements))


def _check_drawn(entry: dict[str, Any], chain: ChainInfo, request: draw.DrawRequest, expected: int, request_index: int) -> tuple[draw.DrawResult, int]:
    """Check one logged experts.drawn entry against the recomputed draw."""
    d = entry["payload"]
    round = d.get("round")
    if round != expected:
        raise DrawMismatch(f"round {round} is not the first round after the request entry {request_index} (expected {expected})")
    try:
        signature = bytes.fromhex(d["signature"])
        bls.verify_beacon(chain, round, signature)
    except (CryptoError, ValueError, TypeError) as exc:
        raise DrawMismatch(f"beacon signature does not verify for round {round}: {exc}") from None
    result = draw.draw(request, hashlib.sha256(signature).digest())
    if list(result.committee) != d.get("committee"):
        raise DrawMismatch(
            f"logged committee {', '.join(d.get('committee') or [])} differs from the recomputed {', '.join(result.committee)}"
        )
    if list(result.sequence) != d.get("sequence"):
        raise DrawMismatch("logged sequence differs from the recomputed sequence")
    return result, round
