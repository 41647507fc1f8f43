"""Tenders (招标项目) from publication to the confirmed opening record: rules (pure), store, tender
(create, publish, amend, postpone), sealed bids (投标) and their container, the blob store, the
opening (开标), the hall (opening_record: 签到, 唱标, 异议), collusion leads (围标串标线索), and
round_jobs, the machinery of jobs that wait for a beacon round."""

from evaluation.tenders.rules import Method, TenderState
from evaluation.tenders.tender import Tender, TenderContext

__all__ = ["Method", "Tender", "TenderContext", "TenderState"]
