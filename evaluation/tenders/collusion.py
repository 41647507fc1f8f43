"""Collusion leads (围标串标线索) after the opening: pure functions over plain values.

Leads, not verdicts: two bidders uploading from one address may share an office building's NAT.
Compared: upload IP addresses, client fingerprints (the optional X-Client-Fingerprint header),
identical document hashes, and document metadata where the format carries it — Office Open XML
(docx/xlsx/pptx: docProps/core.xml and app.xml inside the ZIP) and the PDF Info dictionary.
Only the standard library parses documents.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.etree import ElementTree

PDF_SCAN = 1 << 20
_PDF_FIELDS = {"Author": "author", "Creator": "creator_tool", "Producer": "producer"}
_PDF_RE = re.compile(rb"/(Author|Creator|Producer)\s*\(((?:\\.|[^\\)]){0,300})\)")
_OOXML = {
    "docProps/core.xml": {"creator": "author", "lastModifiedBy": "last_modified_by"},
    "docProps/app.xml": {"Application": "creator_tool", "Company": "company"},
}
LEAD_KINDS = (
    "same_ip", "same_fingerprint", "same_document", "same_author", "same_last_modified_by", "same_company",
    "same_creator_tool", "same_producer",
)


@dataclass(frozen=True)
class UploadTrace:
    """One upload: who, from which address, with which client fingerprint ("" if none sent)."""

    bidder: str
    ip: str
    fingerprint: str


@dataclass(frozen=True)
class DocumentTrace:
    """One document of an opened bid: its owner, name, hash and extracted metadata."""

    bidder: str
    name: str
    sha256: str
    meta: dict[str, str]


@dataclass(frozen=True)
class Lead:
    """Several bidders share `value` of kind `kind` (see LEAD_KINDS)."""

    kind: str
    value: str
    bidders: tuple[str, ...]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "bidders": list(self.bidders), "detail": self.detail}


def _shared(kind: str, pairs: Iterable[tuple[str, str]], detail: str) -> list[Lead]:
    owners: dict[str, set[str]] = defaultdict(set)
    shown: dict[str, str] = {}
    for value, bidder in pairs:
        key = value.strip().casefold()
        if key:
            owners[key].add(bidder)
            shown.setdefault(key, value.strip())
    return [Lead(kind, shown[k], tuple(sorted(b)), detail) for k, b in sorted(owners.items()) if len(b) > 1]


def leads(uploads: Iterable[UploadTrace], documents: Iterable[DocumentTrace]) -> list[Lead]:
    """Every value shared by two or more bidders, grouped by kind, in LEAD_KINDS order."""
    uploads, documents = list(uploads), list(documents)
    found = _shared("same_ip", ((u.ip, u.bidder) for u in uploads), "bids uploaded from the same IP address")
    found += _shared(
        "same_fingerprint", ((u.fingerprint, u.bidder) for u in uploads), "bids uploaded from the same client fingerprint"
    )
    found += _shared("same_document", ((d.sha256, d.bidder) for d in documents), "identical document (same SHA-256)")
    for field in ("author", "last_modified_by", "company", "creator_tool", "producer"):
        found += _shared(
            f"same_{field}", ((d.meta.get(field, ""), d.bidder) for d in documents), f"documents share metadata {field}"
        )
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ooxml(f: BinaryIO) -> dict[str, str]:
    meta: dict[str, str] = {}
    with zipfile.ZipFile(f) as z:
        names = set(z.namelist())
        for part, wanted in _OOXML.items():
            if part not in names or z.getinfo(part).file_size > 1 << 20:
                continue
            root = ElementTree.fromstring(z.read(part))
            for element in root:
                key = wanted.get(_local(element.tag))
                if key and element.text and element.text.strip():
                    meta[key] = element.text.strip()[:300]
    return meta


def _pdf_string(raw: bytes) -> str:
    text = re.sub(rb"\\([()\\])", rb"\1", raw)
    if text.startswith(b"\xfe\xff"):
        return text[2:].decode("utf-16-be", "replace")
    return text.decode("latin-1")


def _pdf(f: BinaryIO) -> dict[str, str]:
    head = f.read(PDF_SCAN)
    f.seek(0, 2)
    size = f.tell()
    f.seek(max(len(head), size - PDF_SCAN))
    data = head + f.read(PDF_SCAN)
    meta: dict[str, str] = {}
    for name, value in _PDF_RE.findall(data):
        meta.setdefault(_PDF_FIELDS[name.decode()], _pdf_string(value).strip()[:300])
    return {k: v for k, v in meta.items() if v}


def document_metadata(name: str, f: BinaryIO) -> dict[str, str]:
    """Author, last editor, company, creating tool and producer where `f`'s format carries them.

    Returns {} for other formats or unreadable files: metadata is a hint, never an error.
    """
    try:
        start = f.read(5)
        f.seek(0)
        if start.startswith(b"PK\x03\x04"):
            return _ooxml(f)
        if start == b"%PDF-":
            return _pdf(f)
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, KeyError, ValueError):
        return {}
    return {}
