"""crypto.note against signed-notes/notes.json.

Sources (tests/vectors/merkle/README.md): C2SP/C2SP signed-note.md @5ba5ee83 (example note),
golang/mod sumdb/note/note_test.go @fe2ec04f (PeterNeumann / EnochRoot keys), sigsum/sigsum-go
pkg/checkpoint/checkpoint_test.go @2224a397 (a sum.golang.org checkpoint).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from crypto.checkpoint import Checkpoint
from crypto.errors import FormatError
from crypto.note import (
    InvalidNoteSignatureError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    generate_key,
    key_id,
    open_note,
    sign_note,
)
from tests.conftest import VECTORS

NOTES = VECTORS / "merkle" / "signed-notes" / "notes.json"
CASES: list[dict[str, Any]] = json.loads(NOTES.read_text())["notes"]
BY_ID = {case["id"]: case for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector_note_opens(case: dict[str, Any]) -> None:
    verifiers = [Verifier.from_key_text(v) for v in case["vkeys"]]
    assert [v.to_key_text() for v in verifiers] == case["vkeys"]
    note = open_note(case["note"].encode(), verifiers)
    assert [s.name for s in note.sigs] == case["expect"]["verified_by"]
    assert note.unverified_sigs == ()
    if "text" in case["expect"]:
        assert note.text == case["expect"]["text"]
    if "checkpoint" in case["expect"]:
        want = case["expect"]["checkpoint"]
        checkpoint = Checkpoint.parse(note.text)
        assert checkpoint.origin == want["origin"]
        assert checkpoint.size == want["size"]
        assert checkpoint.root == base64.b64decode(want["root_b64"])
        assert list(checkpoint.extensions) == want["extensions"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector_note_altered_text_is_rejected(case: dict[str, Any]) -> None:
    verifiers = [Verifier.from_key_text(v) for v in case["vkeys"]]
    altered = case["note"].replace("\n", " \n", 1).encode()
    with pytest.raises(InvalidNoteSignatureError, match="does not verify"):
        open_note(altered, verifiers)


def test_go_test_key_reproduces_the_deterministic_signature() -> None:
    case = BY_ID["go-note-peterneumann"]
    signer = Signer.from_key_text(case["skey"])
    assert signer.name == "PeterNeumann"
    assert signer.key_id == 0xC74F20A3
    assert signer.to_key_text() == case["skey"]
    assert signer.verifier().to_key_text() == case["vkeys"][0]
    signed = sign_note(case["expect"]["text"], [signer])
    line = f"— PeterNeumann {case['expect']['deterministic_signature_by_skey']}\n"
    assert signed == (case["expect"]["text"] + "\n" + line).encode()


def test_unknown_signatures_are_kept_unverified() -> None:
    case = BY_ID["go-note-peterneumann"]
    peter = Verifier.from_key_text(case["vkeys"][0])
    note = open_note(case["note"], [peter])
    assert [s.name for s in note.sigs] == ["PeterNeumann"]
    assert [(s.name, s.key_id) for s in note.unverified_sigs] == [("EnochRoot", 0xAF0CFE78)]

    with pytest.raises(UnverifiedNoteError, match=r"^note has no signature by a known key \(signed by "
                                                  r"PeterNeumann\+c74f20a3, EnochRoot\+af0cfe78\)$"):
        open_note(case["note"], [])
    # Same name, other key: the signature is not from a known key.
    _, other = generate_key("PeterNeumann")
    with pytest.raises(UnverifiedNoteError):
        open_note(case["note"], [Verifier.from_key_text(other)])


def test_generated_keys_sign_and_verify() -> None:
    skey, vkey = generate_key("pingbiao.example/log")
    signer, verifier = Signer.from_key_text(skey), Verifier.from_key_text(vkey)
    assert skey.startswith("PRIVATE+KEY+pingbiao.example/log+")
    assert verifier.key_id == key_id("pingbiao.example/log", verifier.public_key) == signer.key_id
    text = "pingbiao.example/log\n3\n" + base64.b64encode(bytes(32)).decode() + "\n"
    signed = sign_note(text, [signer])
    assert open_note(signed, [verifier]).text == text
    # The text may contain blank lines; the last one separates the signatures.
    text2 = "a\n\nb\n\n"
    assert open_note(sign_note(text2, [signer]), [verifier]).text == text2


def test_two_signers_in_order() -> None:
    signers = [Signer.from_key_text(generate_key(n)[0]) for n in ("log", "witness")]
    signed = sign_note("hello\n", signers)
    note = open_note(signed, [s.verifier() for s in reversed(signers)])
    assert [s.name for s in note.sigs] == ["log", "witness"]
    with pytest.raises(FormatError, match="same key is given twice"):
        sign_note("hello\n", [signers[0], signers[0]])


GOOD = BY_ID["c2sp-signed-note-example"]["note"]


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (GOOD.rstrip("\n"), "must end with a signature line"),
        (GOOD.replace("\n\n", "\n"), "no blank line"),
        (GOOD.replace("—", "-"), "does not start with '— '"),
        (GOOD.replace("example.com/foo U", "example.com/foo  U"), "not valid base64"),
        (GOOD.replace(" Uw2Q", "+x Uw2Q"), "no valid key name"),
        (GOOD.replace("example.", "example\r."), "control characters"),
        (GOOD + GOOD.split("\n\n")[1], "two signatures by key"),
        ("text\n\n— k AAAA\n", "too short"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    verifier = Verifier.from_key_text(BY_ID["c2sp-signed-note-example"]["vkeys"][0])
    with pytest.raises(FormatError, match=message):
        open_note(note, [verifier])


def test_not_utf8() -> None:
    with pytest.raises(FormatError, match="not valid UTF-8"):
        open_note(b"\xff\n\n\xe2\x80\x94 k AAAAAAA=\n", [])


def test_too_many_signatures() -> None:
    signer = Signer.from_key_text(generate_key("k")[0])
    signed = sign_note("x\n", [signer])
    line = signed.split(b"\n\n")[1]
    with pytest.raises(FormatError, match="more than the 100 accepted"):
        open_note(signed + line * 100, [signer.verifier()])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("example.com/foo+530d903a", "must be <name>"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match its key"),
        ("example.com/foo+530d90+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 hex digits"),
        ("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "not an Ed25519 key"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "not valid base64"),
        ("ex ample+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "invalid name"),
    ],
)
def test_bad_verifier_keys(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        Verifier.from_key_text(text)


def test_bad_signer_keys_and_text() -> None:
    vkey = BY_ID["go-note-peterneumann"]["vkeys"][0]
    with pytest.raises(FormatError, match="must start with PRIVATE\\+KEY\\+"):
        Signer.from_key_text(vkey)
    signer = Signer.from_key_text(BY_ID["go-note-peterneumann"]["skey"])
    with pytest.raises(FormatError, match="must end with a newline"):
        sign_note("no newline", [signer])
    with pytest.raises(FormatError, match="control characters"):
        sign_note("tab\there\n", [signer])
    with pytest.raises(FormatError, match="at least one signer"):
        sign_note("x\n", [])
