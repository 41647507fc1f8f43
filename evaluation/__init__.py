"""The procurement domain: tenders, bids, opening, experts, scoring, the audit log and its replay."""
