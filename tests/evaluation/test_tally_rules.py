"""The rules of docs/scoring.md the tally must get right: the SME price deduction (小微企业价格扣除),
rounding before comparing, invalid bids, the minimum of valid bids (废标), and what score sheets do
under 最低评标价法. Fixed cases from the docs, and a property test against a second implementation
written here from docs/scoring.md alone (it imports nothing of the code under test but its types)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.errors import InvalidRequest
from evaluation.session.scoring import Criteria, Criterion, Kind, Method, ScoringError, Sheet, display
from evaluation.session.tally import Bid, NotEnoughBids, TieRule, tally
from evaluation.tenders.rules import parse_spec, sme_deduction_of
from tests.evaluation.tender_fixtures import spec

CRITERIA = Criteria((Criterion("P", Kind.PRICE, F(30)), Criterion("T", Kind.TECHNICAL, F(70))))
YUAN = 100


def same_scores(bids: list[Bid], t: str = "50") -> list[Sheet]:
    return [Sheet(e, b.id, {"T": F(t)}) for e in ("e1", "e2") for b in bids]


# -- the SME deduction 小微企业价格扣除 ------------------------------------------------------------


def test_sme_example_of_the_issue() -> None:
    """A 100,000, B 108,000 (小微企业, 10 %), C 120,000 yuan, price weight 30: B's evaluated price
    97,200 is the base price; B 30.00, A 97,200/100,000 × 30 = 29.16, C 97,200/120,000 × 30 = 24.30."""
    bids = [Bid("A", 100_000 * YUAN), Bid("B", 108_000 * YUAN, F(1, 10)), Bid("C", 120_000 * YUAN)]
    result = tally(CRITERIA, Method.COMPREHENSIVE, bids, same_scores(bids))
    rows = [(b.bid, b.rank, display(b.price_score), display(b.evaluated_fen / 100), b.price_fen) for b in result.bids]
    assert rows == [("B", 1, "30.00", "97200.00", 108_000_00), ("A", 2, "29.16", "100000.00", 100_000_00),
                    ("C", 3, "24.30", "120000.00", 120_000_00)]
    assert result.to_json()["bids"][0]["evaluated_fen"] == "9720000" and result.to_json()["bids"][0]["deduction"] == "1/10"
    lowest = tally(Criteria(()), Method.LOWEST_PRICE, bids, [])
    assert [(b.bid, b.rank) for b in lowest.bids] == [("B", 1), ("A", 2), ("C", 3)]  # ranked by 97,200


def test_tender_states_its_deduction_within_the_range() -> None:
    goods = parse_spec(spec(sme_deduction="10"))
    assert goods.sme_deduction == 10 and goods.sme_rate() == F(1, 10)
    assert [f.key for f in goods.record_fields][-1] == "sme"  # bidders declare in the sealed record
    assert parse_spec(spec(category="services", sme_deduction="20")).sme_rate() == F(1, 5)
    assert parse_spec(spec(category="works", sme_deduction="3")).sme_rate() == F(3, 100)
    assert parse_spec(spec(sme_deduction="12.5")).to_json()["sme_deduction"] == "12.5"
    for bad, message in ((spec(sme_deduction="9"), "^货物项目的小微企业价格扣除须为 10%–20%"), (spec(sme_deduction="21"), "^货物项目的小微企业价格扣除须为 10%–20%"),
                         (spec(category="works", sme_deduction="6"), "^工程项目的小微企业价格扣除须为 3%–5%"),
                         (spec(sme_deduction=10, sme_reserved=True), "专门面向中小企业的项目不设小微企业价格扣除"),
                         (spec(sme_deduction=1.5), "小微企业价格扣除须为百分比数字"),
                         (spec(sme_deduction="x"), "小微企业价格扣除不是有效的百分比")):
        with pytest.raises(InvalidRequest, match=message):
            parse_spec(bad)


def test_only_a_declared_small_enterprise_with_its_letter_is_deducted() -> None:
    s = parse_spec(spec(sme_deduction="15"))
    letter = [{"name": "中小企业声明函.pdf", "sha256": "00" * 32, "size": 1}]
    assert sme_deduction_of(s, {"sme": "小微企业"}, letter) == F(3, 20)
    assert sme_deduction_of(s, {"sme": "小微企业"}, []) == 0  # declared without the 声明函
    assert sme_deduction_of(s, {"sme": "中型企业"}, letter) == 0  # medium enterprises get none
    assert sme_deduction_of(s, {}, letter) == 0
    assert sme_deduction_of(parse_spec(spec()), {"sme": "小微企业"}, letter) == 0  # the tender has none


# -- minimum of bids 最少投标人数 -------------------------------------------------------------------


def test_min_bids_below_the_methods_minimum_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="此采购方式的最少投标人数不能少于 3 家.*现为 2 家"):
        parse_spec(spec(min_bids=2))
    assert parse_spec(spec(min_bids=4)).min_bids == 4
    assert parse_spec({**spec(), "method": "single_source", "invited": ["b"], "min_bids": 1}).min_bids == 1


def test_too_few_valid_bids_fail_never_rank() -> None:
    bids = [Bid("a", 100), Bid("b", 120), Bid("c", 90, invalid="符合性审查不通过")]
    with pytest.raises(NotEnoughBids, match="废标：.*投标只有 2 家，少于 3 家"):
        tally(CRITERIA, Method.COMPREHENSIVE, bids, same_scores(bids), min_valid=3)
    with pytest.raises(NotEnoughBids, match="投标只有 0 家"):  # 最低评标价法 without a valid bid: 废标
        tally(Criteria(()), Method.LOWEST_PRICE, [Bid("a", 100, invalid="资格审查不通过")], [])
    with pytest.raises(NotEnoughBids):
        tally(Criteria(()), Method.LOWEST_PRICE, [], [])


def test_an_invalid_bid_sets_no_base_price_and_is_listed_unranked() -> None:
    bids = [Bid("a", 100_00), Bid("b", 120_00), Bid("c", 50_00, invalid="异常低价 abnormally low")]
    sheets = same_scores(bids[:2])  # the invalid bid's sheets, if any, are ignored
    result = tally(CRITERIA, Method.COMPREHENSIVE, bids, [*sheets, Sheet("e1", "c", {"T": F(99)})])
    assert [(b.bid, b.rank, display(b.price_score)) for b in result.bids] == [("a", 1, "30.00"), ("b", 2, "25.00"),
                                                                             ("c", None, "0.00")]
    assert result.bids[-1].invalid == "异常低价 abnormally low"


# -- rounding: compare what the report shows ---------------------------------------------------------


def test_equal_displayed_totals_go_to_the_price_not_the_hidden_decimals() -> None:
    """X scores 80.003 but is dearer, Y 80.001: both show 80.00, so the cheaper Y ranks first."""
    bids = [Bid("X", 10001), Bid("Y", 10000)]
    sheets = [Sheet("e1", "X", {"T": F("50.006")}), Sheet("e1", "Y", {"T": F("50.001")})]
    result = tally(CRITERIA, Method.COMPREHENSIVE, bids, sheets)
    assert result.bids[0].total < result.bids[1].total  # exactly, Y is lower …
    assert [(b.bid, b.rank, display(b.total)) for b in result.bids] == [("Y", 1, "80.00"), ("X", 2, "80.00")]
    same_price = tally(CRITERIA, Method.COMPREHENSIVE, [Bid("X", 10000), Bid("Y", 10000)],
                       [Sheet("e1", "X", {"T": F("50.004")}), Sheet("e1", "Y", {"T": F("50.001")})])
    assert [b.rank for b in same_price.bids] == [1, 1]  # equal as shown, equal price: 并列


# -- 最低评标价法 and score sheets ---------------------------------------------------------------------


def test_lowest_price_ignores_sheets_even_with_findings() -> None:
    bids = [Bid("a", 300), Bid("b", 200)]
    wrong = [Sheet("e1", "a", {"T": F(99)}, total=F(1)), Sheet("e1", "b", {})]  # off scale, wrong sum, missing
    result = tally(CRITERIA, Method.LOWEST_PRICE, bids, wrong)
    assert [(b.bid, b.rank, b.means, b.total) for b in result.bids] == [("b", 1, {}, 0), ("a", 2, {}, 0)]
    with pytest.raises(ScoringError, match="最低评标价法没有技术分"):
        tally(CRITERIA, Method.LOWEST_PRICE, bids, [], tie_rule=TieRule.TECHNICAL)


# -- a second implementation, from docs/scoring.md alone ---------------------------------------------


def round2(x: F) -> F:
    """四舍五入 to 2 decimals of a non-negative number."""
    hundredths = x * 100
    whole = hundredths.numerator // hundredths.denominator
    if hundredths - whole >= F(1, 2):
        whole += 1
    return F(whole, 100)


def reference(bids: list[tuple[str, int, int, bool]], scores: dict[tuple[str, str], int], price_points: int,
              method: str, minimum: int) -> list[tuple[str, int | None]] | str:
    """(id, price in fen, deduction percent, valid) and expert scores → [(id, rank)] or "废标"."""
    valid = [b for b in bids if b[3]]
    if len(valid) < max(minimum, 1):
        return "废标"
    evaluated = {b[0]: F(b[1]) * (100 - b[2]) / 100 for b in valid}
    base = min(evaluated.values())
    experts = sorted({e for (e, _) in scores})
    keys = {}
    for bid in evaluated:
        shown_price = round2(evaluated[bid] / 100)
        if method == "comprehensive":
            mean = F(sum(scores[(e, bid)] for e in experts), len(experts))
            total = mean + base / evaluated[bid] * price_points
            keys[bid] = (-round2(total), shown_price)
        else:
            keys[bid] = (shown_price,)
    order = sorted(keys, key=lambda b: (keys[b], b))
    ranked: list[tuple[str, int | None]] = []
    for i, bid in enumerate(order):
        ranked.append((bid, ranked[-1][1] if i and keys[order[i - 1]] == keys[bid] else i + 1))
    return ranked + sorted((b[0], None) for b in bids if not b[3])


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[tuple[str, int, int, bool]], dict[tuple[str, str], int], int]:
    n = draw(st.integers(1, 6))
    prices = st.sampled_from([9_720_000, 10_000_000, 10_800_000, 12_000_000, 9_999_999, 10_000_001])
    bids = [(f"b{i}", draw(prices | st.integers(1, 10**9)), draw(st.sampled_from([0, 0, 10, 15, 20])),
             draw(st.booleans() | st.just(True))) for i in range(n)]
    experts = [f"e{j}" for j in range(draw(st.integers(1, 4)))]
    scores = {(e, b[0]): draw(st.integers(0, 70)) for e in experts for b in bids}
    return bids, scores, draw(st.integers(1, 3))


@settings(max_examples=300, deadline=None)
@given(cases(), st.sampled_from(["comprehensive", "lowest_price"]))
def test_tally_agrees_with_the_reference(case: tuple[list[tuple[str, int, int, bool]], dict[tuple[str, str], int], int],
                                         method: str) -> None:
    bids, scores, minimum = case
    tbids = [Bid(i, p, F(d, 100), None if ok else "无效 invalid") for i, p, d, ok in bids]
    sheets = [Sheet(e, b, {"T": F(v)}) for (e, b), v in scores.items()]
    want = reference(bids, scores, 30, method, minimum)
    if want == "废标":
        with pytest.raises(NotEnoughBids):
            tally(CRITERIA, Method(method), tbids, sheets, min_valid=minimum)
        return
    got = tally(CRITERIA, Method(method), tbids, sheets, min_valid=minimum)
    assert [(b.bid, b.rank) for b in got.bids] == want


# -- 大写金额 for the arithmetic correction (87号令 art. 59 (2)) -----------------------------------------


DIGITS = "零壹贰叁肆伍陆柒捌玖"


def capital(fen: int) -> str:
    """A second writer of amounts in capital numerals, by the usual rules (零 for skipped places)."""
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10

    def group(n: int) -> str:
        out, zero = "", False
        for unit, place in (("仟", 1000), ("佰", 100), ("拾", 10), ("", 1)):
            d = n // place % 10
            if d == 0:
                zero = bool(out)
                continue
            out += ("零" if zero else "") + DIGITS[d] + unit
            zero = False
        return out

    text, gap = "", False  # gap: a zero place since the last digit written
    for n, unit in ((yuan // 10**8, "亿"), (yuan // 10**4 % 10**4, "万"), (yuan % 10**4, "")):
        if n == 0:
            gap = gap or bool(text)
            continue
        text += ("零" if text and (gap or n < 1000) else "") + group(n) + unit
        gap = n % 10 == 0
    text += "元" if yuan else ""
    if jiao:
        text += DIGITS[jiao] + "角"
    elif yuan and cents:
        text += "零"
    text += DIGITS[cents] + "分" if cents else ("" if jiao else "整")
    return text


def test_capital_amounts_fixed() -> None:
    from evaluation.session.rules import capital_yuan_to_fen

    assert capital(108_000_00) == "壹拾万零捌仟元整" and capital_yuan_to_fen("壹拾万零捌仟元整") == 108_000_00
    assert capital_yuan_to_fen("人民币壹亿零伍万元整") == 100_050_000_00
    assert capital_yuan_to_fen("叁佰元伍角陆分") == 300_56
    for bad in ("十万元", "壹拾万", "元", "壹拾万元整外"):
        with pytest.raises(InvalidRequest):
            capital_yuan_to_fen(bad)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 10**13))
def test_capital_amounts_read_back(fen: int) -> None:
    from evaluation.session.rules import capital_yuan_to_fen

    assert capital_yuan_to_fen(capital(fen)) == fen


def test_money_from_a_client_is_checked_before_any_arithmetic() -> None:
    """A price correction's amounts come from a request: exponents, infinities, NaN and amounts no
    bid can carry are refused with a line, at once (no Decimal of a 400,000-digit number)."""
    from evaluation.session.rules import CorrectionRule, corrected_total, yuan_to_fen

    assert yuan_to_fen("1,234.5") == 123450
    for text in ("1e400000", "Infinity", "sNaN", "NaN", "-1.00", "0", "1.234", "9" * 16, "\ud800"):
        with pytest.raises(InvalidRequest):
            yuan_to_fen(text)
    huge = {"items": [{"unit_price": "999999999999999.99", "quantity": 2**40}]}
    with pytest.raises(InvalidRequest, match="^修正后总价超出上限"):
        corrected_total(CorrectionRule.UNIT_SUM, huge, 1)
