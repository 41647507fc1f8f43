"""Collusion leads (pure): shared IPs, fingerprints, document hashes and document metadata."""

from __future__ import annotations

import io
import zipfile

from evaluation.tenders.collusion import DocumentTrace, UploadTrace, document_metadata, leads


def docx(author: str, tool: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("docProps/core.xml", (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{author}</dc:creator>'
            f"<cp:lastModifiedBy>{author}</cp:lastModifiedBy></cp:coreProperties>"))
        z.writestr("docProps/app.xml", (
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>{tool}</Application><Company>同一公司</Company></Properties>"))
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_metadata_from_docx_and_pdf() -> None:
    assert document_metadata("a.docx", io.BytesIO(docx("张三", "WPS Office"))) == {
        "author": "张三", "last_modified_by": "张三", "creator_tool": "WPS Office", "company": "同一公司"}
    pdf = b"%PDF-1.7\n1 0 obj << /Author (Li Si) /Creator (Word \\(2019\\)) /Producer (PDFium) >> endobj\n%%EOF"
    assert document_metadata("b.pdf", io.BytesIO(pdf)) == {"author": "Li Si", "creator_tool": "Word (2019)", "producer": "PDFium"}
    assert document_metadata("c.txt", io.BytesIO(b"plain")) == {}
    assert document_metadata("d.docx", io.BytesIO(b"PK\x03\x04 broken")) == {}


def test_leads_name_only_shared_values() -> None:
    uploads = [UploadTrace("a", "10.0.0.1", "fp-1"), UploadTrace("b", "10.0.0.1", ""), UploadTrace("c", "10.0.0.3", "fp-1"),
               UploadTrace("d", "10.0.0.4", "")]
    documents = [
        DocumentTrace("a", "技术标.docx", "11" * 32, {"author": "张三"}),
        DocumentTrace("b", "tech.docx", "11" * 32, {"author": " 张三 "}),
        DocumentTrace("c", "x.pdf", "22" * 32, {"author": "王五"}),
        DocumentTrace("d", "y.pdf", "33" * 32, {}),
    ]
    found = {(lead.kind, lead.value): lead.bidders for lead in leads(uploads, documents)}
    assert found == {
        ("same_ip", "10.0.0.1"): ("a", "b"),
        ("same_fingerprint", "fp-1"): ("a", "c"),
        ("same_document", "11" * 32): ("a", "b"),
        ("same_author", "张三"): ("a", "b"),
    }
    assert leads([], []) == []
