"""The JSON API, one module per feature: tenders, bids, opening and hall, experts and the draw,
the evaluation session, the audit log."""
