"""The workbench's rule (evaluation/session/worklist.py): what a tender's agency does next."""

from __future__ import annotations

import pytest

from evaluation.session.worklist import Stage, Step, next_step
from evaluation.tenders.rules import TenderState as S

CASES = [
    (Stage(S.DRAFT), Step.PUBLISH),
    (Stage(S.PUBLISHED), Step.AWAIT_OPENING),
    (Stage(S.OPENING), Step.AWAIT_RECORD),
    (Stage(S.OPENED), Step.AWAIT_RECORD),
    (Stage(S.CONFIRMING), Step.AWAIT_CONFIRMATION),
    (Stage(S.CONFIRMING, open_objections=2), Step.ANSWER_OBJECTIONS),
    (Stage(S.CONFIRMED, open_objections=1), Step.ANSWER_OBJECTIONS),
    (Stage(S.CONFIRMED), Step.REQUEST_DRAW),
    (Stage(S.CONFIRMED, draw="requested"), Step.AWAIT_DRAW),
    (Stage(S.CONFIRMED, draw="exhausted"), Step.REDRAW),
    (Stage(S.CONFIRMED, draw="drawn"), Step.START_EVALUATION),
    (Stage(S.CONFIRMED, draw="drawn", session="checkin"), Step.FOLLOW_EVALUATION),
    (Stage(S.EVALUATING, draw="drawn", session="scoring"), Step.FOLLOW_EVALUATION),
    (Stage(S.EVALUATING, draw="drawn", session="done"), Step.PUBLISH_RESULT),
    # a tender of two lots (分包): each lot's session and result
    (Stage(S.CONFIRMED, draw="drawn", lots=2), Step.START_EVALUATION),
    (Stage(S.EVALUATING, draw="drawn", lots=2, lot_sessions=((1, "scoring"),)), Step.START_EVALUATION),
    (Stage(S.EVALUATING, draw="drawn", lots=2, lot_sessions=((1, "done"), (2, "checkin"))), Step.PUBLISH_RESULT),
    (Stage(S.EVALUATING, draw="drawn", lots=2, lot_sessions=((1, "done"),), published=frozenset({1})), Step.START_EVALUATION),
    (Stage(S.EVALUATING, draw="drawn", lots=2, lot_sessions=((1, "done"), (2, "review")), published=frozenset({1})),
     Step.FOLLOW_EVALUATION),
    (Stage(S.FAILED), Step.NONE),
    (Stage(S.AWARDED, draw="drawn", session="done"), Step.NONE),
]


@pytest.mark.parametrize(("stage", "step"), CASES)
def test_next_step(stage: Stage, step: Step) -> None:
    assert next_step(stage) == step


def test_every_tender_state_has_a_case() -> None:
    assert {stage.state for stage, _ in CASES} == set(S)
