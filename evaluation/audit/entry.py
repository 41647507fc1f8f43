"""Audit-log entries and their one canonical leaf encoding (docs/audit-log.md, "Leaf encoding").

A leaf is UTF-8 JSON, keys sorted, no insignificant whitespace, non-ASCII characters as
themselves::

    {"actor":{"account":"a-1","role":"agency"},"index":0,"kind":"tender.published",
     "payload":{...},"tender":"T-1","time":"2026-05-01T08:00:00.000000Z","v":1}

The index binds the entry to its position, the time is RFC 3339 UTC with exactly six fractional
digits. Payload values are strings, integers within ±(2**53 − 1), booleans, null, lists and
objects with string keys; floats are refused because their text is not canonical.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from crypto import merkle
from evaluation.errors import InvalidRequest

LEAF_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON reader (JavaScript included) holds exactly."""
MAX_DEPTH = 32
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_LEAF_KEYS = ("actor", "index", "kind", "payload", "tender", "time", "v")


class LeafError(InvalidRequest):
    """A leaf or a draft cannot be encoded, or bytes are not a canonical leaf."""


@dataclass(frozen=True)
class Actor:
    """Who caused an entry: an account and its role (agency, bidder, expert, supervisor, admin, system)."""

    account: str
    role: str

    def __post_init__(self) -> None:
        if not self.account or not self.role:
            raise LeafError("操作人的账号和角色不能为空")

    def to_json(self) -> dict[str, str]:
        return {"account": self.account, "role": self.role}


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class EntryDraft:
    """An entry before the log gives it an index and a time. Validated on creation."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    tender_id: str | None = None
    actor: Actor = SYSTEM

    def __post_init__(self) -> None:
        if not self.kind or any(ch.isspace() for ch in self.kind):
            raise LeafError("记录类型不能为空或含空格（收到 {kind}）", kind=repr(self.kind))
        if self.tender_id == "":
            raise LeafError("项目编号不能为空")
        check_payload(self.payload)


@dataclass(frozen=True)
class Entry:
    """One entry of the log as stored: its fields and the exact leaf bytes they encode to."""

    index: int
    time: datetime
    tender_id: str | None
    actor: Actor
    kind: str
    payload: dict[str, Any]
    leaf: bytes

    @property
    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of the leaf bytes."""
        return merkle.leaf_hash(self.leaf)

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON for APIs: decoded fields plus ``leaf``, base64 of the exact bytes."""
        return {
            "index": self.index,
            "time": format_time(self.time),
            "tender_id": self.tender_id,
            "actor": self.actor.to_json(),
            "kind": self.kind,
            "payload": self.payload,
            "leaf": base64.b64encode(self.leaf).decode(),
        }


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-05-01T08:00:00.000000Z``. Requires an aware datetime."""
    if moment.tzinfo is None:
        raise LeafError("记录时间须带时区")
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Inverse of ``format_time``; only that exact form is accepted."""
    try:
        moment = datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise LeafError("时间格式不对：{time} 不是带微秒的 RFC 3339 UTC 时间", time=repr(text)) from None
    if format_time(moment) != text:
        raise LeafError("时间格式不规范：{time}", time=repr(text))
    return moment


def check_payload(value: Any, path: str = "payload", depth: int = 0) -> None:
    """Raise LeafError unless `value` holds only canonical JSON values (see module doc)."""
    if not _is_canonical(value, depth):
        _explain(value, path, depth)


def _is_canonical(value: Any, depth: int) -> bool:
    """Fast test for ``check_payload`` (exact built-in types only, no paths built).

    True only for values ``_explain`` accepts; on False, ``_explain`` decides and words the error.
    """
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodes(value)
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if value is None or kind is bool:
        return True
    if kind is dict:
        depth += 1
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _encodes(key)) or not _is_canonical(item, depth):
                return False
        return True
    if kind is list or kind is tuple:
        depth += 1
        for item in value:
            if not _is_canonical(item, depth):
                return False
        return True
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _explain(value: Any, path: str, depth: int) -> None:
    """The full check, with the path of the first offending value in the error."""
    if depth > MAX_DEPTH:
        raise LeafError("内容嵌套过深：{path} 超过 {depth} 层", path=path, depth=MAX_DEPTH)
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            _check_text(value, path)
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise LeafError("整数过大，请改用文字：{path} 为 {value}，整数须在 ±(2**53 - 1) 以内", path=path, value=value)
        return
    if isinstance(value, float):
        raise LeafError("内容中不能有小数，请用整数或文字：{path} 为 {value}", path=path, value=repr(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LeafError("内容中有非文字的键：{path} 的键 {key}", path=path, key=repr(key))
            _check_text(key, path)
            _explain(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _explain(item, f"{path}[{i}]", depth + 1)
        return
    raise LeafError("内容中有不允许的数据类型：{path} 的类型为 {type}", path=path, type=type(value).__name__)


def _check_text(text: str, path: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise LeafError("文字中有无效字符：{path}（孤立的代理字符）", path=path) from None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_string = json.encoder.encode_basestring  # what _CANONICAL writes for a str (C implementation)


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON value: sorted keys, no spaces, UTF-8, floats refused."""
    return _CANONICAL.encode(value).encode()


def canonical_payload(payload: dict[str, Any]) -> str:
    """The canonical JSON text of a payload (as it appears in its leaf). Requires a checked payload."""
    return _CANONICAL.encode(payload)


def encode_leaf(
    index: int, time: datetime, tender_id: str | None, actor: Actor, kind: str, payload: dict[str, Any]
) -> bytes:
    """The canonical leaf bytes of an entry. Requires ``index >= 0`` and a valid payload."""
    if index < 0:
        raise LeafError("记录序号不能为负数（收到 {index}）", index=index)
    check_payload(payload)
    return _encode(index, format_time(time), tender_id, actor, kind, canonical_payload(payload))


def _encode(index: int, time_text: str, tender_id: str | None, actor: Actor, kind: str, payload_text: str) -> bytes:
    """``canonical_json`` of the leaf object, written member by member in sorted key order.

    Same bytes as encoding the whole object at once (the members are fixed and sorted here; each
    string goes through the same encoder), without building the object for every entry.
    """
    return leaf_of_text(index, time_text, tender_id, actor.account, actor.role, kind, payload_text)


def leaf_of_text(
    index: int, time_text: str, tender_id: str | None, account: str, role: str, kind: str, payload_text: str
) -> bytes:
    """The leaf bytes of an entry's fields as stored (the time as its leaf text, `payload_text`
    verbatim): the one place the leaf object is written out (see ``_encode``)."""
    tender = "null" if tender_id is None else _string(tender_id)
    return (
        f'{{"actor":{{"account":{_string(account)},"role":{_string(role)}}},"index":{index:d},'
        f'"kind":{_string(kind)},"payload":{payload_text},"tender":{tender},"time":"{time_text}","v":{LEAF_VERSION:d}}}'
    ).encode()


def leaf_of_fields(
    index: int, time: datetime, tender_id: str | None, actor: Actor, kind: str, payload_text: str
) -> bytes:
    """The leaf the stored fields of an entry stand for, `payload_text` taken verbatim: equal to the
    stored leaf exactly when the fields say what the leaf says (the payload text included)."""
    return _encode(index, format_time(time), tender_id, actor, kind, payload_text)


def make_entry(index: int, time: datetime, draft: EntryDraft) -> Entry:
    """The entry `draft` becomes at `index` and `time`; the payload is checked again (dicts are mutable)."""
    leaf = encode_leaf(index, time, draft.tender_id, draft.actor, draft.kind, draft.payload)
    return Entry(index, time, draft.tender_id, draft.actor, draft.kind, draft.payload, leaf)


def make_entries(start: int, time: datetime, drafts: Sequence[EntryDraft]) -> list[tuple[Entry, str]]:
    """``make_entry`` for drafts at consecutive indices from `start`, all at `time`, each with its
    canonical payload text (the ``payload`` column). Payloads are checked again, as there."""
    if start < 0:
        raise LeafError("记录序号不能为负数（收到 {index}）", index=start)
    time_text = format_time(time)
    out = []
    for index, draft in enumerate(drafts, start):
        payload = draft.payload
        check_payload(payload)
        text = _CANONICAL.encode(payload)
        leaf = _encode(index, time_text, draft.tender_id, draft.actor, draft.kind, text)
        out.append((Entry(index, time, draft.tender_id, draft.actor, draft.kind, payload, leaf), text))
    return out


def decode_leaf(leaf: bytes) -> Entry:
    """Parse leaf bytes. Raises LeafError unless they are exactly the canonical encoding of an entry."""
    try:
        obj = json.loads(leaf.decode(), parse_float=_refuse_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise LeafError("记录不是有效的 JSON：{reason}", reason=str(exc)) from None
    if not isinstance(obj, dict) or tuple(sorted(obj)) != _LEAF_KEYS:
        raise LeafError("记录格式不对：须是含成员 {members} 的对象", members=", ".join(_LEAF_KEYS))
    if obj["v"] != LEAF_VERSION:
        raise LeafError("不支持此版本的记录（版本 {version}，应为 {want}）", version=repr(obj["v"]), want=LEAF_VERSION)
    actor, index, kind, payload, tender = obj["actor"], obj["index"], obj["kind"], obj["payload"], obj["tender"]
    if not isinstance(actor, dict) or sorted(actor) != ["account", "role"]:
        raise LeafError("记录的操作人格式不对")
    if type(index) is not int or not isinstance(kind, str) or not isinstance(payload, dict):
        raise LeafError("记录的序号、类型或内容格式不对")
    if tender is not None and not isinstance(tender, str) or not isinstance(obj["time"], str):
        raise LeafError("记录的项目或时间格式不对")
    entry = Entry(
        index, parse_time(obj["time"]), tender, Actor(str(actor["account"]), str(actor["role"])), kind, payload, leaf
    )
    if encode_leaf(entry.index, entry.time, tender, entry.actor, kind, payload) != leaf:
        raise LeafError("第 {index} 条记录的格式不规范", index=index)
    return entry


def _refuse_float(text: str) -> float:
    raise LeafError("记录中含有小数，格式不规范（{value}）", value=text)
