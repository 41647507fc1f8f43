"""Who of the pool may sit on a tender's draw, and why each other expert may not; pure, no I/O.

The one derivation both the draw request (draw_service.request_draw) and an auditor re-deriving
the pool from an expert-database export (evaluation/experts/rederive.py) run: the 回避 rules
(evaluation/experts/avoidance.py), an earlier decline of this tender, the site capability, then
the criteria (draw.eligibility). Each exclusion is a ``(rule, expert, fact)`` whose commitment
(avoidance.commitment) the request logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from evaluation.experts import avoidance, draw
from evaluation.experts.plan import site_role
from evaluation.experts.pool_csv import ExpertRecord


def derive(tender_id: str, criteria: draw.DrawCriteria, records: Sequence[ExpertRecord], bidders: Iterable[str],
           agency: avoidance.Agency, on_date: date, declined: Iterable[str]
           ) -> tuple[draw.Eligibility, dict[str, int], list[tuple[str, str, str]]]:
    """The eligibility, the exclusion counts by rule and each exclusion's (rule, expert, fact).

    `bidders` are the bidders' organisations, `declined` the experts who declined this tender before.
    """
    declined = set(declined)
    keep, excluded = avoidance.eligible([r.rules_view() for r in records], bidders, agency, on_date)
    counts = avoidance.exclusion_counts(excluded)
    caps = {r.id: r.sites for r in records}
    facts = [(rule.value, i, why) for rule, items in excluded.items() for i, why in items]
    able, rules = [], {"declined": 0, "site_capability": 0}
    for e in keep:
        if e.id in declined:
            rules["declined"] += 1
            facts.append(("declined", e.id, f"declined tender {tender_id} before"))
        elif criteria.sites and criteria.site_of(e.region) is not None and site_role(criteria, e.region)[1] not in caps[e.id]:
            rules["site_capability"] += 1
            facts.append(("site_capability", e.id, f"cannot sit at the {site_role(criteria, e.region)[1]} site of region {e.region}"))
        else:
            able.append(e)
    elig = draw.eligibility(criteria, able)
    regions = {e.id: e.region for e in able}
    for rule, ids in elig.excluded.items():
        facts += [(rule, i, "no requested specialty" if rule == "specialty" else f"no site takes region {regions[i]}") for i in ids]
    counts.update({k: v for k, v in rules.items() if v})
    counts.update(elig.counts())
    return elig, counts, facts


def committed(tender_id: str, facts: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The exclusions as the draw request logs them: ``{"expert", "rule", "commitment"}`` sorted by
    rule, then expert (the fact itself is personal data and stays out of the log)."""
    return sorted(({"expert": i, "rule": rule, "commitment": avoidance.commitment(tender_id, i, rule, why)}
                   for rule, i, why in facts), key=lambda x: (x["rule"], x["expert"]))
