"""The opening record's document rules (pure): amounts in 大写 as the trade's forms write them
(read back by the committee's own parser of 大写金额), with separators, and the hash that
signatures name."""

from __future__ import annotations

import random

import pytest

from evaluation.session.rules import capital_yuan_to_fen
from evaluation.tenders.record_document import capital, digest, fen_of, money_text


@pytest.mark.parametrize(("fen", "words"), [
    (126800000, "壹佰贰拾陆万捌仟元整"),
    (10800000, "壹拾万捌仟元整"),
    (10080000, "壹拾万零捌佰元整"),
    (119250050, "壹佰壹拾玖万贰仟伍佰元伍角"),
    (100005, "壹仟元零伍分"),
    (30056, "叁佰元伍角陆分"),
    (100000000000, "壹拾亿元整"),
    (1000010000, "壹仟万零壹佰元整"),
    (1000000100, "壹仟万零壹元整"),
    (50, "伍角"),
    (0, "零元整"),
])
def test_capital_amounts(fen: int, words: str) -> None:
    assert capital(fen) == words


def test_capital_reads_back_as_the_same_amount() -> None:
    rng = random.Random(12)
    for fen in [1, 9, 10, 100, 101, 1001, 10001, 100001, 10_000_000_001, *(rng.randrange(1, 10**13) for _ in range(3000))]:
        assert capital_yuan_to_fen(capital(fen)) == fen, (fen, capital(fen))


def test_money_text_and_hash() -> None:
    assert money_text("1268000.00") == "1,268,000.00（大写：壹佰贰拾陆万捌仟元整）"
    assert money_text("not money") == "not money" and fen_of("1.005") is None
    assert digest({"b": 1, "a": "开标"}) == digest({"a": "开标", "b": 1}) != digest({"a": "开标", "b": 2})
