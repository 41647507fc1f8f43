"""Helpers of the evaluation-session tests: a confirmed tender with three opened bids (the real
opening on the local beacon), a committee, members' signing keys, and signed documents.

``TestCommittee`` is a stand-in committee source for EvaluationContext, kept for the pure domain
tests of the session rules (tests/evaluation/test_session_flow.py): they need a committee of a
chosen size and shape at once, on both databases, without a pool, a draw request and a wait for
the beacon round, none of which they test. Its members are
``evaluation.experts.CommitteeMember``-shaped. The HTTP and end-to-end tests use the real draw
instead (tests/evaluation/experts_fixtures.py ``draw_committee``, tests/web/tender_client.py
``drawn_committee``), read through production's ``evaluation.experts.committee_of``.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.beacon import LocalBeacon, LocalBeaconSource
from evaluation.audit.entry import Actor, canonical_json
from evaluation.session.rules import COMMITMENT_SHA256, DECLARATION_SHA256
from evaluation.session.scoring import Sheet, points
from evaluation.tenders import bids, opening, opening_record
from evaluation.tenders import tender as tenders
from evaluation.tenders.tender import TenderContext
from tests.evaluation.tender_fixtures import AGENCY, BIDDERS, chunks, meta, sealed, spec

PRICES = ("100000.00", "90000.00", "120000.00")
CRITERIA = [{"name": "价格 Price", "points": 30}, {"name": "技术方案 Technical", "points": 50},
            {"name": "商务 Business", "points": 20}]


@dataclass(frozen=True)
class Member:
    expert_id: str
    account_id: str
    name: str
    site: str
    specialty: str


@dataclass
class TestCommittee:
    """A committee source: tender id -> members, as the draw would give them."""

    __test__ = False
    members: dict[str, list[Member]] = field(default_factory=dict)

    def seat(self, tender_id: str, count: int = 5) -> list[Actor]:
        sites = ("主场 main", "副场 remote")
        self.members[tender_id] = [
            Member(f"E{i}", f"acc-expert-{i}", f"专家 {i}", sites[i % 2], "computers") for i in range(count)
        ]
        return [Actor(m.account_id, "expert") for m in self.members[tender_id]]

    async def __call__(self, _engine: AsyncEngine, tender_id: str) -> list[Member]:
        return self.members.get(tender_id, [])


async def confirmed_tender(tctx: TenderContext, beacon: LocalBeacon, **over: Any) -> tenders.Tender:
    """A tender (criteria 价格 30, 技术 50, 商务 20) with three opened bids, its record final."""
    t = await tenders.create(tctx, AGENCY, "采购中心", spec(2, criteria=CRITERIA, objection_window_s=0, **over))
    t = await tenders.publish(tctx, AGENCY, t.id)
    assert t.opening_round is not None
    for i, price in enumerate(PRICES):
        data = sealed(beacon.chain, t.opening_round, {"total_price": price, "delivery_days": 30})
        await bids.submit(tctx, BIDDERS[i], t.id, chunks(data), meta(i))
    await opening.run(tctx, t.id, await LocalBeaconSource(beacon).wait_for(t.opening_round))
    late = dataclasses.replace(tctx, clock=lambda: time.time() + 5)
    return await opening_record.finalize(late, t.id)


class Keys:
    """Members' signing keys (ECDSA P-256), signing as WebCrypto does (P1363 r ‖ s, base64)."""

    def __init__(self) -> None:
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}

    def key(self, account: str) -> ec.EllipticCurvePrivateKey:
        return self._keys.setdefault(account, ec.generate_private_key(ec.SECP256R1()))

    def public(self, account: str) -> str:
        der = self.key(account).public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, account: str, message: bytes) -> str:
        r, s = decode_dss_signature(self.key(account).sign(message, ec.ECDSA(hashes.SHA256())))
        return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()

    def checkin(self, account: str, bids: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """A check-in that answers "no tie" for each bidder of the session's `bids`."""
        answers = {b["bidder"]: {"bidder": b["bidder"], "conflict": False} for b in bids}
        return {"identity_confirmed": True, "declaration_sha256": DECLARATION_SHA256, "avoidance": list(answers.values()),
                "commitment_sha256": COMMITMENT_SHA256, "public_key": self.public(account)}

    def document(self, kind: str, tender_id: str, signer: str, **fields: Any) -> tuple[str, str]:
        text = canonical_json({"kind": kind, "tender": tender_id, "signer": signer, **fields}).decode()
        return text, self.sign(signer, text.encode())


def sheets_doc(keys: Keys, tender_id: str, expert: str, scores: dict[str, dict[str, str]]) -> tuple[str, str]:
    """A member's signed sheets: bid id -> {criterion code: points}."""
    sheets = [Sheet(expert, bid, {c: points(v) for c, v in s.items()}).to_json() for bid, s in sorted(scores.items())]
    return keys.document("pingbiao-sheets/1", tender_id, expert, sheets=sheets)
