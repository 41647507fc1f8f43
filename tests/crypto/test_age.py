"""age v1 header (stanzas, MAC, strict parsing) and the ASCII armor."""

from __future__ import annotations

import base64
import io

import pytest

from crypto import age, armor
from crypto.errors import FormatError, IntegrityError

KEY = bytes(range(16))


def _header(*bodies: bytes) -> bytes:
    stanzas = [age.Stanza("tlock", (str(i + 1), "ab" * 32), body) for i, body in enumerate(bodies)]
    return age.encode_header(stanzas, KEY)


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 96, 128, 200])
def test_header_round_trip_and_exact_consumption(size: int) -> None:
    body = bytes(range(256))[:size]
    encoded = _header(body, b"x" * 7)
    src = io.BytesIO(encoded + b"PAYLOAD")
    header = age.read_header(src)
    assert src.read() == b"PAYLOAD"
    assert [s.body for s in header.stanzas] == [body, b"x" * 7]
    assert header.stanzas[0].type == "tlock" and header.stanzas[0].args == ("1", "ab" * 32)
    assert header.mac_input == encoded[: encoded.index(b"\n---") + 4]
    age.verify_mac(header, KEY)


def test_stanza_body_is_wrapped_at_64_columns_with_a_short_last_line() -> None:
    lines = _header(bytes(128)).split(b"\n")
    # 128 bytes -> 171 base64 characters -> 64, 64, 43
    assert [len(line) for line in lines[2:5]] == [64, 64, 43]
    # 48 bytes -> exactly 64 characters -> a full line, then an empty one
    lines = _header(bytes(48)).split(b"\n")
    assert [len(line) for line in lines[2:4]] == [64, 0]


def test_mac_is_hmac_over_header_up_to_dashes() -> None:
    encoded = _header(b"body")
    header = age.read_header(io.BytesIO(encoded))
    assert header.mac_input.endswith(b"\n---")
    assert header.mac == age.header_mac(KEY, header.mac_input)
    with pytest.raises(IntegrityError, match="header MAC does not match"):
        age.verify_mac(header, bytes(16))


def test_unknown_stanzas_are_kept() -> None:
    encoded = age.encode_header([age.Stanza("%V_-grease", (), b"\x01\x02"), age.Stanza("tlock", ("5", "cd" * 32), b"k")], KEY)
    header = age.read_header(io.BytesIO(encoded))
    assert [s.type for s in header.stanzas] == ["%V_-grease", "tlock"]


GOOD = _header(bytes(128))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h.replace(b"age-encryption.org/v1", b"age-encryption.org/v2"), "unsupported age version"),
        (lambda h: b"hello\n" + h, "not an age file"),
        (lambda h: h.replace(b"-> tlock 1 ", b"-> tlock  1 "), "empty or non-printable"),
        (lambda h: h.replace(b"-> tlock", b"=> tlock"), "neither a stanza nor the MAC line"),
        (lambda h: h[: h.index(b"---")], "truncated"),
        (lambda h: h.replace(b"--- ", b"---"), "MAC line is malformed"),
        (lambda h: h[:-2] + b"\n", "MAC line is malformed"),
        (lambda h: b"age-encryption.org/v1\n" + h[h.index(b"---") :], "no recipient stanza"),
    ],
)
def test_malformed_headers_are_refused(mutate: object, message: str) -> None:
    data = mutate(GOOD)  # type: ignore[operator]
    with pytest.raises(FormatError, match=message):
        age.read_header(io.BytesIO(data))


def test_non_canonical_base64_is_refused() -> None:
    # 1 byte of body = 2 characters; the second one carries 4 unused bits that must be zero
    good = _header(b"\x00")
    assert b"\nAA\n" in good
    with pytest.raises(FormatError, match="canonical"):
        age.read_header(io.BytesIO(good.replace(b"\nAA\n", b"\nAB\n")))


def test_long_body_line_is_refused() -> None:
    lines = GOOD.split(b"\n")
    lines[2] = lines[2] + b"A"
    with pytest.raises(FormatError, match="longer than 64"):
        age.read_header(io.BytesIO(b"\n".join(lines)))


def test_body_without_short_final_line_is_refused() -> None:
    lines = _header(bytes(48)).split(b"\n")
    del lines[3]  # the empty line that ends a 64-character body
    with pytest.raises(FormatError):
        age.read_header(io.BytesIO(b"\n".join(lines)))


def test_b64_raw_helpers() -> None:
    for n in range(10):
        data = bytes(range(n))
        assert age.b64_decode_raw(age.b64_encode_raw(data)) == data
    for bad in (b"A", b"AA==", b"A=AA", b"AB", b"A*"):
        with pytest.raises(ValueError):
            age.b64_decode_raw(bad)


# --- armor -------------------------------------------------------------------------------


def _armor(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = armor.ArmorWriter(out)
    for i in range(0, len(data), 1000):  # odd-sized writes
        writer.write(data[i : i + 1000])
    writer.finish()
    return out.getvalue()


def _dearmor(text: bytes) -> bytes:
    reader, armored = armor.open_maybe_armored(io.BytesIO(text))
    assert armored
    return reader.read()


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 3000, 48 * 1024, 200_000])
def test_armor_round_trip(size: int) -> None:
    data = bytes(i * 7 % 256 for i in range(size))
    text = _armor(data)
    lines = text.split(b"\n")
    assert lines[0] == armor.BEGIN and lines[-2] == armor.END and lines[-1] == b""
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1]) and all(0 < len(line) <= 64 for line in body)
    assert base64.b64decode(b"".join(body)) == data
    assert _dearmor(text) == data
    assert _dearmor(text.replace(b"\n", b"\r\n")) == data
    assert _dearmor(b" \n\t" + text + b"\n  \n") == data


def test_binary_input_is_not_armored() -> None:
    reader, armored = armor.open_maybe_armored(io.BytesIO(b"age-encryption.org/v1\nrest"))
    assert not armored and reader.read() == b"age-encryption.org/v1\nrest"


BASE = _armor(bytes(range(256)) * 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE.replace(armor.END + b"\n", b""), "truncated"),
        (BASE.replace(b"-----BEGIN AGE ENCRYPTED FILE-----", b"-----BEGIN AGE FILE-----"), "does not start"),
        (BASE + b"garbage\n", "after the armor END"),
        (BASE + b" " * 1100, "after the armor END"),
        (b" " * 1100 + BASE, "whitespace before"),
        (BASE.replace(b"\n", b"\n\n", 2), "empty line"),
        (BASE.replace(armor.END, b"AAAA\n" + armor.END), "not the END line"),
        (BASE[:40] + BASE[41:], "bad length|not the END line"),
        (BASE[:100] + b"*" + BASE[101:], "invalid base64"),
    ],
)
def test_malformed_armor_is_refused(text: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        _dearmor(text)


def test_long_armor_line_is_refused() -> None:
    lines = BASE.split(b"\n")
    lines[1] += lines[2][:4]
    del lines[2]
    with pytest.raises(FormatError):
        _dearmor(b"\n".join(lines))
