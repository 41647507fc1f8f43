"""The plaintext of a sealed bid (投标文件容器), version 1 — what the browser seals with tlock-js.

    pingbiao-bid/1\\n
    {"record": {...}, "documents": [{"name": "…", "size": N, "sha256": "…"}, …]}\\n
    <the bytes of document 1><the bytes of document 2>…

Line 1 is the magic; line 2 the manifest, one line of UTF-8 JSON (at most 1 MiB, under the input
rules of evaluation/inputs.py: valid text, whole numbers, bounded nesting); then each
document's bytes, exactly ``size`` of them, in manifest order, and nothing after the last. A
browser builds it with ``new Blob([magic, JSON.stringify(manifest) + "\\n", ...files])``; no
base64, no ZIP library, and the server reads it as a stream. ``sha256`` (hex) is optional; when
given it must match. Specified in docs/tenders.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from evaluation.errors import InvalidRequest, Text
from evaluation.inputs import InputError, parse_json

MAGIC = b"pingbiao-bid/1\n"
MAX_MANIFEST = 1 << 20
MAX_DOCUMENTS = 200
CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-f]{64}$")


class ContainerError(InvalidRequest):
    """The unsealed plaintext is not a valid bid container (the bid cannot be opened)."""


@dataclass(frozen=True)
class DocumentEntry:
    name: str
    size: int
    sha256: str | None


@dataclass(frozen=True)
class Manifest:
    record: dict[str, Any]
    documents: tuple[DocumentEntry, ...]


def parse_manifest(line: bytes) -> Manifest:
    """Parse the manifest line (without its newline). Raises ContainerError with the reason."""
    try:
        obj = parse_json(line, max_bytes=MAX_MANIFEST, what=Text("投标文件清单"))
    except InputError as exc:
        raise ContainerError(exc.text) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("record"), dict):
        raise ContainerError("投标文件的清单格式不对")
    docs = obj.get("documents", [])
    if not isinstance(docs, list) or len(docs) > MAX_DOCUMENTS:
        raise ContainerError("投标文件最多包含 {n} 份文档", n=MAX_DOCUMENTS)
    entries: list[DocumentEntry] = []
    for n, d in enumerate(docs):
        if not isinstance(d, dict):
            raise ContainerError("投标文件第 {n} 份文档的信息格式不对", n=n + 1)
        name, size, digest = d.get("name"), d.get("size"), d.get("sha256")
        if not isinstance(name, str) or not name or len(name) > 255 or "/" in name or "\\" in name:
            raise ContainerError("投标文件第 {n} 份文档的文件名无效（不能含斜杠，最多 255 个字符）", n=n + 1)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ContainerError("文档「{name}」缺少文件大小", name=name)
        if digest is not None and (not isinstance(digest, str) or not _HEX.match(digest)):
            raise ContainerError("文档「{name}」的校验值格式不对（sha256 须为 64 位小写十六进制字符）", name=name)
        entries.append(DocumentEntry(name, size, digest))
    return Manifest(obj["record"], tuple(entries))


def _read_line(src: BinaryIO, limit: int) -> bytes:
    line = src.readline(limit + 1)
    if not line.endswith(b"\n"):
        raise ContainerError("投标文件的清单缺失或过长")
    return line[:-1]


Sink = Callable[[DocumentEntry], "DocumentSink"]


class DocumentSink:
    """Where one document's bytes go while it is read (a blob writer, or nothing)."""

    def write(self, chunk: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self) -> None:
        """Called once the document's bytes are complete and verified."""

    def abort(self) -> None:
        """Called when reading fails."""


class _Discard(DocumentSink):
    def write(self, chunk: bytes) -> None:
        return None


def read_container(
    src: BinaryIO, sink: Sink | None = None, check: Callable[[Manifest], None] | None = None
) -> tuple[Manifest, list[str]]:
    """Read a bid container from `src`, streaming each document into ``sink(entry)``.

    `check`, if given, runs on the manifest before any document is read (and may raise).
    Returns the manifest and each document's SHA-256. Raises ContainerError naming the problem
    (bad magic, manifest, a short or surplus document, a hash mismatch).
    """
    if src.read(len(MAGIC)) != MAGIC:
        raise ContainerError("解密后的内容不是本平台的投标文件")
    manifest = parse_manifest(_read_line(src, MAX_MANIFEST))
    if check is not None:
        check(manifest)
    digests: list[str] = []
    for entry in manifest.documents:
        out = (sink or (lambda _e: _Discard()))(entry)
        h = hashlib.sha256()
        left = entry.size
        try:
            while left:
                chunk = src.read(min(CHUNK, left))
                if not chunk:
                    raise ContainerError("文档「{name}」不完整（缺少 {left} 字节，共 {size} 字节）", name=entry.name, left=left, size=entry.size)
                h.update(chunk)
                out.write(chunk)
                left -= len(chunk)
            digest = h.hexdigest()
            if entry.sha256 is not None and entry.sha256 != digest:
                raise ContainerError("文档「{name}」与其校验值不符，内容已损坏", name=entry.name)
        except BaseException:
            out.abort()
            raise
        out.finish()
        digests.append(digest)
    if src.read(1):
        raise ContainerError("投标文件在最后一份文档之后还有多余内容")
    return manifest, digests


def build_container(record: dict[str, Any], documents: list[tuple[str, bytes]]) -> bytes:
    """A container for `record` and named documents (tests, the demo, `pingbiao seal` helpers)."""
    manifest = {
        "record": record,
        "documents": [{"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in documents],
    }
    head = MAGIC + json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    return head + b"".join(b for _, b in documents)
