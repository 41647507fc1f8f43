"""Audit-log kinds of the evaluation session, their reducers, and the tally recomputed from a replay.

Every reducer folds into ``state["evaluation"]`` (created by ``evaluation.started``). The log alone
holds what the tally needs: the criteria, configuration and valid bids (``evaluation.started``),
every signed sheet (``evaluation.sheet_submitted``), every change (``evaluation.score_changed``)
and the randomness of a drawn tie order (``evaluation.tally``). ``recompute_tally`` folds them with
the pure rules (tally.apply_change, tally.tally) — what ``pingbiao audit replay`` compares with
the logged and stored tally. Documented in docs/audit-log.md.

A multi-lot tender (分包) has one session per lot; its entries stay the tender's, and each names its
lot: ``lot`` in the payload, the lot number (``evaluation.started`` and ``tender.result_published``
give ``{lot, name}``). The reducers fold a lot's entries into ``state["lots"][lot]`` (``lot_of``);
``state["evaluation"]`` is the session of a tender without lots (or the lot started last), and
``lot_entries`` picks the entries a replay of one lot takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from evaluation.audit.entry import Entry
from evaluation.audit.events import KINDS, register_kind
from evaluation.session.rules import SessionConfig, criteria_from_json, tally_bids
from evaluation.session.scoring import Sheet, evaluated_price, points
from evaluation.session.tally import ChangeReason, ScoreChange, Tally, TieRule, apply_change, tally

KINDS_DOC: dict[str, str] = {
    "evaluation.started": (
        "The agency started the evaluation session (评标) of a tender whose record is final and whose "
        "committee is drawn; this reveals the committee to the agency. Payload: config (method, "
        "category, deviation_threshold, tie_rule, recommend, separated, low_bid_fraction), criteria "
        "(list of {code, kind, max_points, allowed, minimum, title}, points as strings), bids (valid "
        "bids of the opening record: {bid, bidder, bidder_name, price_fen, deduction (the SME price "
        "deduction share, e.g. '1/10'), evaluated_fen (price after it, exact), invalid (null)}), "
        "members ({account, "
        "kind, expert_id, name, site, specialty, seat}), declaration and commitment ({version, sha256}); "
        "for a multi-lot tender, lot ({lot, name}: the lot evaluated; bids are those on it, at its price)."
    ),
    "evaluation.state": "The session's state changed. Payload: old, new (checkin, election, scoring, review, tally, signing, done, failed).",
    "evaluation.bid_invalid": (
        "The group leader recorded the committee's decision that a bid is invalid (投标无效): it takes "
        "no part in the tally. Payload: bid, ground (qualification 资格审查, conformity 符合性审查, "
        "abnormally_low 异常低价 art. 60), reason, invalid (the line the report shows), valid_left (int)."
    ),
    "evaluation.price_correction": (
        "The group leader recorded an arithmetic correction (算术修正, 87号令 art. 59) of a bid's price, "
        "computed from what was read in the bid; it binds once the bidder confirms. Payload: bid, rule "
        "(schedule, words, unit_decimal, unit_sum), original_fen, corrected_fen, explanation, status ('pending')."
    ),
    "evaluation.price_correction_answered": (
        "The bidder confirmed or refused the correction. Payload: bid, confirmed (bool). Confirmed: the "
        "corrected price replaces the bid's price_fen (and evaluated_fen); refused: an evaluation.bid_invalid "
        "follows."
    ),
    "evaluation.low_price_query": (
        "The leader asked the bidder of a bid flagged as abnormally low (异常低价, art. 60) to justify its "
        "price. Payload: bid, reason (the flag), due_us (deadline, microseconds)."
    ),
    "evaluation.low_price_justified": (
        "The bidder's written justification (or one given in the booth, recorded by the leader). Payload: "
        "bid, text, document_sha256 (null or the supporting document's hash), in_booth (bool), at_us."
    ),
    "evaluation.low_price_decision": (
        "The committee's decision on the justification. Payload: bid, accepted (bool), reason. Not "
        "accepted (or none in time): an evaluation.bid_invalid follows."
    ),
    "evaluation.failed": (
        "Fewer valid bids than the tender's minimum remain after the committee's review: the "
        "procurement fails (废标, 87号令 arts. 43–44, 政府采购法 art. 36); no ranking. Payload: reason, "
        "valid, min_bids. Phase becomes 'failed'."
    ),
    "evaluation.member_added": (
        "A member joined the committee during check-in: a purchaser's representative (采购人代表) "
        "the agency added, or the expert that replaced a withdrawn (回避) member from the draw's "
        "reserve (补抽), once it accepted. Payload: account, kind ('purchaser_rep' | 'expert'), name, "
        "seat; for a replacement also expert_id, site, specialty, fills (the withdrawn member's seat) "
        "and replaces (its account)."
    ),
    "evaluation.checked_in": (
        "A member checked in (签到): identity confirmed, the avoidance declaration (回避声明) answered "
        "for each bidder with no tie, the commitment (承诺书) accepted, a signing key registered. "
        "Payload: declaration and commitment ({version, sha256} of the texts shown), avoidance (list "
        "of {bidder, bidder_name, conflict: false, reason: ''}; absent before avoidance-v1 answers per "
        "bidder), public_key (base64 SPKI, ECDSA P-256), key_sha256."
    ),
    "evaluation.member_recused": (
        "At check-in a member declared a tie to a bidder and withdrew (回避, 政府采购法实施条例 art. 9): "
        "it does not check in, and the session waits at check-in until its seat is filled. Payload: "
        "declaration ({version, sha256}), avoidance (its answer for every bidder: {bidder, "
        "bidder_name, conflict, reason}), name, seat."
    ),
    "evaluation.seat_released": (
        "At check-in the tender's agency left a withdrawn (回避) member's seat unfilled (不再补足): the "
        "members still seated have a lawful composition (87号令 arts. 47–48: five or more, an odd number, "
        "experts at least two thirds; the minimum of the tender's method and budget). Payload: account, "
        "name, seat (the withdrawn member's), seated (members left), reason (the agency's words)."
    ),
    "evaluation.key_replaced": (
        "A checked-in member who lost its signing key (a new browser, cleared site data) confirmed "
        "its password and registered a new one (重新登记签名密钥); the old key is revoked from this "
        "entry on. Payload: public_key (base64 SPKI, P-256), key_sha256, old_key_sha256, reason."
    ),
    "evaluation.vote": "A member voted for a group leader (评标组长). Payload: round (int), candidate (account).",
    "evaluation.revote": (
        "Nobody had a majority of the members after everyone voted: a new round. Payload: round "
        "(the new round), counts (candidate -> votes of the round that ended)."
    ),
    "evaluation.leader_elected": "A candidate had a majority of the members. Payload: leader, round, counts.",
    "evaluation.sheet_submitted": (
        "A member submitted its scoring sheets for every bid, signed in the booth. Payload: sheets "
        "(list of {expert, bid, scores, total}, points as strings), sha256 (of the signed document, "
        "docs/evaluation.md), signature (base64 P1363, verified by the server with the member's key)."
    ),
    "evaluation.review": (
        "Every member submitted: the sheets are shown to all. Payload: findings (sheet checks), "
        "deviations (畸高畸低: {expert, bid, criterion, score, others_mean, high, median, others_low, "
        "others_high}: scores more than the threshold from the median of all experts' scores), abnormally_low "
        "(bid -> reason)."
    ),
    "evaluation.score_changed": (
        "A member changed one of its scores for an allowed reason, re-signed. Payload: change "
        "({expert, bid, criterion, new, reason, explanation}), sha256, signature."
    ),
    "evaluation.deviation_confirmed": (
        "A member confirmed its own deviating score (畸高畸低) with a reason; the tally is refused while a "
        "deviation is neither confirmed nor changed. Payload: the deviation ({expert, bid, criterion, score, "
        "others_mean, high, median, others_low, others_high}) and reason."
    ),
    "evaluation.tie_draw_requested": (
        "Bids are tied and the tender orders ties by a draw: the randomness is the beacon round "
        "named here, after this entry. Payload: round (int), tied (lists of bid ids)."
    ),
    "evaluation.tally": (
        "The tally (汇总). Payload: tally ({method, bids: [{bid, price_fen, deduction, evaluated_fen, "
        "means, price_score, total, rank, invalid}]}, valid bids ranked first, then invalid ones with rank "
        "null), recommendation ({candidates, ranked}), tie_rule (as applied), round and randomness "
        "(hex; null unless drawn)."
    ),
    "evaluation.report_issued": "The evaluation report (评标报告) was built. Payload: sha256 (of its canonical JSON).",
    "evaluation.report_signed": "A member signed the report's hash in the booth. Payload: sha256, signature (base64).",
    "evaluation.report_final": "Every member signed: the report is final. Payload: sha256, signers (accounts).",
}


def tagged(payload: dict[str, Any], lot: int | None) -> dict[str, Any]:
    """`payload` of an entry of the session of `lot` (unchanged without a lot)."""
    if lot is None or "lot" in payload:
        return payload
    return {**payload, "lot": lot}


def lot_of(payload: Mapping[str, Any]) -> int | None:
    """The lot an entry's payload names (a number, or ``{lot, name}``); None without one."""
    lot = payload.get("lot")
    if isinstance(lot, Mapping):
        lot = lot.get("lot")
    return lot if isinstance(lot, int) and not isinstance(lot, bool) else None


def lot_entries(entries: Iterable[Entry], lot: int | None) -> list[Entry]:
    """The entries a replay of `lot`'s session takes: every entry that is not of another lot's session."""
    return [e for e in entries if lot_of(e.payload) in (None, lot) or not e.kind.startswith("evaluation.")]


def session_state(state: Mapping[str, Any], lot: int | None) -> dict[str, Any] | None:
    """The replayed session of `lot` (None: of a tender without lots) in a replayed `state`."""
    found: dict[str, Any] | None = state.get("evaluation") if lot is None else state.get("lots", {}).get(lot)
    return found


def _ev(state: dict[str, Any], entry: Entry) -> dict[str, Any]:
    lot = lot_of(entry.payload)
    ev: dict[str, Any] = state["evaluation"] if lot is None else state["lots"][lot]
    return ev


def _started(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    lot = lot_of(p)
    ev = {
        "state": "checkin",
        "config": p["config"],
        "criteria": p["criteria"],
        "bids": p["bids"],
        "members": {m["account"]: {**m, "checked_in": False} for m in p["members"]},
        "votes": [],
        "leader": None,
        "sheets": {},
        "changes": [],
        "tally": None,
        "report_sha256": None,
        "report_signers": [],
    }
    if lot is not None:
        state.setdefault("lots", {})[lot] = ev
    state["evaluation"] = ev  # also the lot's: its entries logged before 0016 did not name the lot
    state["phase"] = "evaluating"


def _state(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["state"] = entry.payload["new"]


def _member_added(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    _ev(state, entry)["members"][p["account"]] = {**p, "checked_in": False}


def _checked_in(state: dict[str, Any], entry: Entry) -> None:
    member = _ev(state, entry)["members"][entry.actor.account]
    member.update(checked_in=True, public_key=entry.payload["public_key"])


def _recused(state: dict[str, Any], entry: Entry) -> None:
    member = _ev(state, entry)["members"][entry.actor.account]
    member.update(recused=True, recusal=[a for a in entry.payload["avoidance"] if a["conflict"]])


def _seat_released(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["members"][entry.payload["account"]]["released"] = True


def _key_replaced(state: dict[str, Any], entry: Entry) -> None:
    member = _ev(state, entry)["members"][entry.actor.account]
    member["public_key"] = entry.payload["public_key"]
    member.setdefault("revoked_keys", []).append(entry.payload["old_key_sha256"])


def _vote(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["votes"].append({"round": entry.payload["round"], "voter": entry.actor.account,
                                "candidate": entry.payload["candidate"]})


def _leader(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["leader"] = entry.payload["leader"]


def _sheet(state: dict[str, Any], entry: Entry) -> None:
    sheets = entry.payload["sheets"]
    if not isinstance(sheets, list):
        raise TypeError("sheets must be a list")
    _ev(state, entry)["sheets"][entry.actor.account] = sheets


def _review(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["review"] = entry.payload


def _changed(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["changes"].append(entry.payload["change"])


def _deviation_confirmed(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry).setdefault("deviation_confirmations", []).append(dict(entry.payload))


def _bid_invalid(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    ev = _ev(state, entry)
    ev["bids"] = [{**b, "invalid": p["invalid"], "invalid_ground": p["ground"], "invalid_reason": p["reason"]}
                  if b["bid"] == p["bid"] else b for b in ev["bids"]]


def _bid_update(state: dict[str, Any], entry: Entry, bid: str, **values: Any) -> None:
    ev = _ev(state, entry)
    if bid not in {b["bid"] for b in ev["bids"]}:
        raise KeyError(bid)
    ev["bids"] = [{**b, **values} if b["bid"] == bid else b for b in ev["bids"]]


def _correction(state: dict[str, Any], entry: Entry) -> None:
    p = dict(entry.payload)
    p.pop("lot", None)
    _bid_update(state, entry, p.pop("bid"), correction=p)


def _correction_answered(state: dict[str, Any], entry: Entry) -> None:
    bid = entry.payload["bid"]
    b = next(b for b in _ev(state, entry)["bids"] if b["bid"] == bid)
    correction = {**b["correction"], "status": "confirmed" if entry.payload["confirmed"] else "refused"}
    if not entry.payload["confirmed"]:
        _bid_update(state, entry, bid, correction=correction)
        return
    fen = int(correction["corrected_fen"])
    evaluated = evaluated_price(fen, Fraction(str(b.get("deduction", "0"))))
    _bid_update(state, entry, bid, correction=correction, price_fen=fen, evaluated_fen=str(evaluated))


def _low_query(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    _bid_update(state, entry, p["bid"], low_price={"reason": p["reason"], "due_us": p["due_us"], "status": "open",
                                            "justification": None})


def _low_justified(state: dict[str, Any], entry: Entry) -> None:
    p = dict(entry.payload)
    p.pop("lot", None)
    bid = p.pop("bid")
    b = next(b for b in _ev(state, entry)["bids"] if b["bid"] == bid)
    _bid_update(state, entry, bid, low_price={**b["low_price"], "status": "justified", "justification": p})


def _low_decision(state: dict[str, Any], entry: Entry) -> None:
    p = entry.payload
    b = next(b for b in _ev(state, entry)["bids"] if b["bid"] == p["bid"])
    _bid_update(state, entry, p["bid"], low_price={**b["low_price"], "status": "accepted" if p["accepted"] else "rejected",
                                                   "decision": p["reason"]})


def _failed(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["failed"] = entry.payload["reason"]
    lots = state.get("lots", {})
    if lot_of(entry.payload) is not None and not every_lot(state, lambda n: "failed" in lots.get(n, {})):
        return  # a lot failed (该包废标); the other lots go on
    state["phase"] = "failed"
    state["failed_reason"] = entry.payload["reason"]


def every_lot(state: Mapping[str, Any], done: Any) -> bool:
    """Whether `done(n)` holds for every lot of the tender (its spec as published)."""
    count = len(state.get("tender", {}).get("lots") or [])
    return all(done(n) for n in range(1, count + 1))


def _tie(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["tie_round"] = entry.payload["round"]


def _tally(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["tally"] = entry.payload


def _report(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["report_sha256"] = entry.payload["sha256"]


def _report_signed(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["report_signers"].append(entry.actor.account)


def _final(state: dict[str, Any], entry: Entry) -> None:
    _ev(state, entry)["report_final"] = entry.payload["sha256"]


REDUCERS = {
    "evaluation.started": _started,
    "evaluation.state": _state,
    "evaluation.bid_invalid": _bid_invalid,
    "evaluation.failed": _failed,
    "evaluation.price_correction": _correction,
    "evaluation.price_correction_answered": _correction_answered,
    "evaluation.low_price_query": _low_query,
    "evaluation.low_price_justified": _low_justified,
    "evaluation.low_price_decision": _low_decision,
    "evaluation.member_added": _member_added,
    "evaluation.checked_in": _checked_in,
    "evaluation.member_recused": _recused,
    "evaluation.seat_released": _seat_released,
    "evaluation.key_replaced": _key_replaced,
    "evaluation.vote": _vote,
    "evaluation.revote": None,
    "evaluation.leader_elected": _leader,
    "evaluation.sheet_submitted": _sheet,
    "evaluation.review": _review,
    "evaluation.score_changed": _changed,
    "evaluation.deviation_confirmed": _deviation_confirmed,
    "evaluation.tie_draw_requested": _tie,
    "evaluation.tally": _tally,
    "evaluation.report_issued": _report,
    "evaluation.report_signed": _report_signed,
    "evaluation.report_final": _final,
}


def register() -> None:
    """Register the evaluation kinds (once; later calls do nothing)."""
    for kind, doc in KINDS_DOC.items():
        if kind not in KINDS:
            register_kind(kind, doc, REDUCERS[kind])


register()


def change_from_json(obj: Mapping[str, Any]) -> ScoreChange:
    """A logged change; an unknown reason stays a plain string so apply_change refuses it."""
    reason: Any = obj["reason"]
    try:
        reason = ChangeReason(reason)
    except ValueError:
        pass
    criterion = obj.get("criterion")
    return ScoreChange(str(obj["expert"]), str(obj["bid"]), None if criterion is None else str(criterion),
                       points(obj["new"]), reason, str(obj.get("explanation", "")))


def current_sheets(ev: Mapping[str, Any]) -> tuple[Sheet, ...]:
    """The submitted sheets with every logged change applied in log order (apply_change)."""
    config = SessionConfig.from_json(ev["config"])
    criteria = criteria_from_json(ev["criteria"])
    sheets: tuple[Sheet, ...] = tuple(
        Sheet.from_json(s) for account in sorted(ev["sheets"]) for s in ev["sheets"][account]
    )
    for change in ev["changes"]:
        sheets = apply_change(criteria, sheets, change_from_json(change), threshold=config.deviation_threshold)
    return sheets


def recompute_tally(ev: Mapping[str, Any]) -> Tally:
    """The tally from a replayed session alone: logged criteria, bids, sheets, changes, randomness."""
    config = SessionConfig.from_json(ev["config"])
    criteria = criteria_from_json(ev["criteria"])
    bids = tally_bids(ev["bids"])
    logged = ev.get("tally") or {}
    rule = TieRule(logged.get("tie_rule", config.tie_rule.value))
    randomness = logged.get("randomness")
    return tally(criteria, config.method, bids, current_sheets(ev), tie_rule=rule,
                 randomness=None if randomness is None else bytes.fromhex(randomness), min_valid=config.min_bids)


def first_difference(a: Any, b: Any, path: str = "tally") -> str | None:
    """The first place two JSON values differ, as one line, or None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present on one side only"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"
