"""The tamper-evident audit log (审计日志): entries, storage, the single writer, replay, bundles.

See docs/audit-log.md for the formats. Public names are re-exported here.
"""

from evaluation.audit.entry import Actor, Entry, EntryDraft, LeafError, decode_leaf, encode_leaf
from evaluation.audit.events import KINDS, register_kind, replay
from evaluation.audit.log import AuditLog, Receipt, SignedCheckpoint

__all__ = [
    "KINDS",
    "Actor",
    "AuditLog",
    "Entry",
    "EntryDraft",
    "LeafError",
    "Receipt",
    "SignedCheckpoint",
    "decode_leaf",
    "encode_leaf",
    "register_kind",
    "replay",
]
