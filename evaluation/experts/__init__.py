"""Experts (评审专家): the pool (专家库) and its CSV import, avoidance (回避), committee sizes (评标委员会),
the verifiable draw (随机抽取: draw is the pure algorithm, draw_service the workflow, draw_job the
background job), who sees what of it (views), and its offline verification (verify)."""

from evaluation.experts.draw_job import DrawJob

__all__ = ["DrawJob"]
