"""Building blocks of the wire messages: the protocol error, typed field reads, shared values.

signaling.messages builds every message type from these; validation of untrusted input happens
only through `Fields`, so each malformed case has exactly one error text.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from signaling.codes import ErrorCode, Role

MAX_ID_CHARS = 64  # participant ids (= accounts), `to`, `from`
MAX_NAME_CHARS = 128
MAX_TOKEN_CHARS = 2048
MAX_CANDIDATE_CHARS = 1024
MAX_REASON_CHARS = 200
MAX_DEPTH = 32  # objects and arrays nested deeper are refused (the deepest message has 3 levels)
MAX_NUMBER = 2**53  # numbers beyond ±2^53 are refused (the integers JavaScript holds exactly)
MAX_INT_DIGITS = 16  # an integer literal longer than this is beyond 2^53

E = TypeVar("E", bound=enum.Enum)


class ProtocolError(Exception):
    """A message that cannot be accepted: `code` for programs, `message` (one line) for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Fields:
    """Typed reads of one JSON object's fields, each failure an exact `bad-message` error."""

    __slots__ = ("obj",)

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def _get(self, name: str) -> Any:
        if name not in self.obj:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'missing field "{name}"')
        return self.obj[name]

    def str(self, name: str, max_chars: int, *, empty: bool = False) -> str:
        value = self._get(name)
        low = 0 if empty else 1
        if not isinstance(value, str) or not low <= len(value) <= max_chars:
            raise ProtocolError(
                ErrorCode.BAD_MESSAGE, f'field "{name}" must be a string of {low} to {max_chars} characters'
            )
        return value

    def opt_str(self, name: str, max_chars: int) -> str | None:
        if self.obj.get(name) is None:
            return None
        return self.str(name, max_chars, empty=True)

    def number(self, name: str, *, optional: bool = False) -> float | None:
        value = self.obj.get(name) if optional else self._get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be a number')
        return float(value)

    def opt_index(self, name: str) -> int | None:
        value = self.obj.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1023:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be an integer from 0 to 1023')
        return value

    def enum(self, name: str, kind: type[E]) -> E:
        value = self._get(name)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be one of: {allowed}') from None

    def obj_field(self, name: str) -> Fields:
        value = self._get(name)
        if not isinstance(value, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be an object')
        return Fields(value)

    def list_field(self, name: str) -> list[Fields]:
        value = self._get(name)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'field "{name}" must be a list of objects')
        return [Fields(v) for v in value]


# --- the boundary: text of a frame → JSON values every later step may trust ------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER_TEXT = "numbers must be finite and at most 2^53 in magnitude"


def _bad_number() -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_JSON, _NUMBER_TEXT)


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _bad_number()
    value = int(text)
    if abs(value) > MAX_NUMBER:
        raise _bad_number()
    return value


def _float(text: str) -> float:
    value = float(text)  # "1e999" is inf: refused below
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise _bad_number()
    return value


def _constant(text: str) -> Any:  # NaN, Infinity, -Infinity: not JSON at all
    raise _bad_number()


_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant)


def _check(value: Any, depth: int = 1) -> None:
    """Depth ≤ MAX_DEPTH and no lone surrogate in any key or string of a decoded frame (the
    recursion stops at MAX_DEPTH + 1 levels)."""
    kind = type(value)
    if kind is str:
        if not value.isascii():  # isascii() reads a flag CPython keeps per string
            _check_text(value)
        return
    if kind is not dict and kind is not list:
        return
    if depth > MAX_DEPTH:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message is nested deeper than {MAX_DEPTH} levels")
    if kind is dict:
        for key, item in value.items():
            if not key.isascii():
                _check_text(key)
            if type(item) is str:
                if not item.isascii():
                    _check_text(item)
            elif type(item) is dict or type(item) is list:
                _check(item, depth + 1)
    else:
        for item in value:
            _check(item, depth + 1)


def _check_text(text: str) -> None:
    if (m := _SURROGATE.search(text)) is not None:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message is not valid Unicode: lone surrogate \\u{ord(m.group()):04x}")


def loads(text: str | bytes) -> Any:
    """The JSON value of one frame's text, valid by the protocol's one rule for values, or
    `ProtocolError` (`bad-json`). Every frame goes through here before anything reads it, so no
    later step sees what this refuses:

    * text is Unicode scalar values: no lone surrogate (``"\\ud800"``) in any string or key (a
      surrogate pair escaped as two ``\\u`` escapes is one character and fine);
    * numbers are finite and within ±2^53 (no ``NaN``, ``Infinity``, ``1e999``, 400-digit integers);
    * objects and arrays nest at most `MAX_DEPTH` levels.

    Cheap on the usual frame: numbers are checked as they are decoded, then the decoded tree (a
    few nodes) is walked once; an ASCII string, such as an SDP, needs no search (a frame is valid
    UTF-8, so a surrogate can only come from a ``\\u`` escape and makes its string non-ASCII).
    """
    if isinstance(text, bytes):  # json.loads would decode bytes with "surrogatepass"
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.BAD_JSON, "message is not valid JSON") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_JSON, "message is not valid JSON") from None
    _check(value)
    return value


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


_JSON_SPACE = " \t\n\r"


def raw_string_literal(text: str, name: str, value: str) -> str | None:
    """The JSON string literal of the top-level field `name` as written in `text`, or None (then
    the caller encodes `value` itself). `text` must already have been parsed by `json.loads` into
    an object whose `name` is the string `value`.

    This lets the relay copy a ~6 KB SDP into the outgoing frame instead of encoding it again
    (and without decoding it a second time). The slice taken is the string token after the first
    `"name"` followed by `:`, up to the next quote (a quote preceded by a backslash returns None:
    SDPs hold no quotes, so the token holds none). It is exactly the top-level field because:

    * outside that token `text` holds no `\\u` escape, so the top-level key meaning `name` is
      spelled `"name"` literally;
    * `"name"` occurs nowhere after the token (nor inside it: it has no quotes, nor before it: the
      first occurrence was taken), so this occurrence is that key — not a nested object's key, a
      duplicate, or text inside another string;
    * in a valid JSON document only a string token can follow a key's colon there.

    Only the short text around the SDP is searched (about a microsecond per message). Anything
    unusual (escaped keys, repeated names, quotes in the value) falls back to re-encoding.
    """
    key = f'"{name}"'
    at = text.find(key)
    if at < 0:
        return None
    n = len(text)
    i = at + len(key)
    while i < n and text[i] in _JSON_SPACE:
        i += 1
    if i >= n or text[i] != ":":
        return None
    i += 1
    while i < n and text[i] in _JSON_SPACE:
        i += 1
    if i >= n or text[i] != '"':
        return None
    j = text.find('"', i + 1)
    if j < 0 or text[j - 1] == "\\" or j - i - 1 < len(value):  # escapes only lengthen a literal
        return None
    if text.find(key, j + 1) >= 0 or text.find("\\u", 0, at) >= 0 or text.find("\\u", j + 1) >= 0:
        return None
    return text[i:j + 1]


# --- values carried inside messages ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """A browser's RTCIceCandidateInit; `candidate == ""` marks the end of candidates."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    @classmethod
    def load(cls, f: Fields) -> IceCandidate:
        return cls(
            f.str("candidate", MAX_CANDIDATE_CHARS, empty=True),
            f.opt_str("sdpMid", MAX_ID_CHARS),
            f.opt_index("sdpMLineIndex"),
            f.opt_str("usernameFragment", 256),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "sdpMid": self.sdp_mid,
            "sdpMLineIndex": self.sdp_mline_index,
            "usernameFragment": self.username_fragment,
        }


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A participant as others see it. `state` is "connected" or "reconnecting"."""

    id: str
    name: str
    role: Role
    state: str = "connected"

    @classmethod
    def load(cls, f: Fields) -> PeerInfo:
        state = f.str("state", 16)
        if state not in {"connected", "reconnecting"}:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, 'field "state" must be one of: connected, reconnecting')
        return cls(f.str("id", MAX_ID_CHARS), f.str("name", MAX_NAME_CHARS), f.enum("role", Role), state)

    def dump(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value, "state": self.state}


@dataclass(frozen=True, slots=True)
class IceServer:
    """One RTCIceServer entry, in the browser's own field names."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @classmethod
    def load(cls, f: Fields) -> IceServer:
        urls = f.obj.get("urls")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, 'field "urls" must be a non-empty list of strings')
        return cls(tuple(urls), f.opt_str("username", 512), f.opt_str("credential", 512))

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


# --- base -------------------------------------------------------------------------------------------


class Message:
    """Base of every wire message: `TYPE` on the wire, `load` from fields, `dump` to fields."""

    TYPE: ClassVar[str]
    __slots__ = ()

    @classmethod
    def load(cls, f: Fields) -> Message:
        return cls()

    def dump(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> str:
        """The message as one compact JSON text (what goes into a WebSocket text frame)."""
        return dumps({"type": self.TYPE, **self.dump()})
