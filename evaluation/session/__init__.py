"""The evaluation session (评标): start, check-in (签到) and the leader vote (session), signed score
sheets, review and tally (sheets; the pure rules in scoring, tally, rules), the signed report
(评标报告), booth presence (booth_events), who sees what (view) and the replay of all of it."""

from evaluation.session.session import EvaluationContext

__all__ = ["EvaluationContext"]
