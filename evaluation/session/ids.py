"""The id of an evaluation session (评标), pure: what ``/api/evaluation/{id}`` and ``/evaluation/{id}``
name. A tender without lots has one session whose id is the tender's id; each lot of a multi-lot
tender (分包) has its own session, ``<tender id>.<lot>`` (``T-….2`` for 第2包)."""

from __future__ import annotations

import re

from evaluation.errors import InvalidRequest

SEPARATOR = "."
_LOT = re.compile(r"[1-9][0-9]{0,2}")


def evaluation_id(tender_id: str, lot: int | None) -> str:
    """The session id of `tender_id`'s evaluation (of `lot`, for a multi-lot tender)."""
    return tender_id if lot is None else f"{tender_id}{SEPARATOR}{lot}"


def parse_evaluation_id(text: str) -> tuple[str, int | None]:
    """(tender id, lot or None) of a session id. A lot part that is not a lot number (``T-x.0``,
    ``T-x.02``, ``T-x.a``) is refused with one line (InvalidRequest)."""
    tender_id, sep, lot = text.partition(SEPARATOR)
    if not sep:
        return text, None
    if not tender_id or not _LOT.fullmatch(lot):
        raise InvalidRequest("评标编号 {got} 无效：分包评标的编号为 项目编号.包号（如 T-….2）", got=repr(text[:60]))
    return tender_id, int(lot)
