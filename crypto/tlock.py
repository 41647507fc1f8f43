"""Timelock (时间锁) sealing of bids: drand tlock recipients in age v1 files.

A sealed file is an age v1 file whose only recipient stanza is

    -> tlock <round> <chain hash>
    <base64 of the IBE ciphertext U‖V‖W of the 16-byte file key>

so nobody can open it before the chain publishes the beacon of that round; then anybody can
(不见面开标, non-presence opening). Files interoperate with drand's Go ``tle`` and tlock-js,
except that an empty payload must be one empty final chunk as age requires (see
docs/timelock.md). Errors are crypto.errors classes with one-line messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from crypto import age, bls, ibe, stream
from crypto.armor import ArmorWriter, open_maybe_armored
from crypto.chain import ChainInfo
from crypto.errors import FormatError, IntegrityError, WrongChainError

STANZA_TYPE = "tlock"
NONCE_SIZE = 16

Progress = Callable[[int], None]
StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class TlockRecipient:
    """A tlock stanza's target: the drand round and the chain (64 lowercase hex)."""

    round: int
    chain_hash: str


@dataclass(frozen=True)
class SealedHeader:
    """What the header of a sealed file says, read without decrypting anything.

    ``recipients``: the tlock stanzas in order; ``stanza_count``: all stanzas, tlock or not;
    ``armored``: whether the file was ASCII-armored.
    """

    recipients: list[TlockRecipient]
    stanza_count: int
    armored: bool


def _recipient(stanza: age.Stanza) -> TlockRecipient:
    """The round and chain of a tlock stanza. Raises FormatError if its arguments are malformed."""
    if len(stanza.args) != 2:
        raise FormatError(f"tlock stanza has {len(stanza.args)} arguments, expected 2 (round, chain hash)")
    text, chain_hash = stanza.args
    if not text.isdigit() or not text.isascii() or (text.startswith("0")) or len(text) > 20:
        raise FormatError(f"tlock stanza round {text[:24]!r} is not a positive decimal number")
    round = int(text)
    if round >= 1 << 64:
        raise FormatError(f"tlock stanza round {text} does not fit in 64 bits")
    if len(chain_hash) != 64 or any(c not in "0123456789abcdef" for c in chain_hash):
        raise FormatError("tlock stanza chain hash is not 64 lowercase hex characters")
    return TlockRecipient(round, chain_hash)


def _open(src: BinaryIO) -> tuple[io.BufferedReader, age.Header, bool]:
    start = _file_position(src)
    reader, armored = open_maybe_armored(src)
    if start is not None and not armored:
        # A binary age file on disk: read it directly, so its payload can be mapped, not copied.
        src.seek(start)
        reader = src  # type: ignore[assignment]
    return reader, age.read_header(reader), armored


def _file_position(src: BinaryIO) -> int | None:
    """The position of `src` if it is a buffered regular file we may seek back in, else None."""
    if not isinstance(src, io.BufferedReader):
        return None
    try:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            return None
        return src.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def inspect(src: BinaryIO) -> SealedHeader:
    """Read only the header of a sealed file (binary or armored) and describe its recipients.

    Raises FormatError if the header (or a tlock stanza in it) is malformed. Nothing is
    decrypted or authenticated: the MAC can only be checked with the file key.
    """
    _, header, armored = _open(src)
    recipients = [_recipient(s) for s in header.stanzas if s.type == STANZA_TYPE]
    return SealedHeader(recipients, len(header.stanzas), armored)


def _check_round(round: int) -> None:
    if not 1 <= round < 1 << 64:
        raise ValueError(f"round must be in [1, 2**64), got {round}")


def seal(
    src: BinaryIO,
    dst: BinaryIO,
    chain: ChainInfo,
    round: int,
    *,
    armor: bool = False,
    progress: Progress | None = None,
) -> None:
    """Encrypt everything `src` yields to `round` of `chain`, writing an age file to `dst`.

    Preconditions: `chain` is trusted (pinned) chain info; round >= 1. Raises FormatError if
    the chain info does not match its hash, uses a scheme unusable for timelock, or has a bad
    public key. `progress`, if given, is called after each 64 KiB chunk with the plaintext
    bytes done so far. Streams: memory use does not grow with the input.
    """
    _check_round(round)
    chain.check_hash()
    scheme = bls.scheme_for(chain.scheme_id)
    file_key = os.urandom(age.FILE_KEY_SIZE)
    body = ibe.encrypt(scheme, chain.public_key, round, file_key)
    stanza = age.Stanza(STANZA_TYPE, (str(round), chain.hash), body)
    armor_writer = ArmorWriter(dst) if armor else None
    out: BinaryIO = armor_writer if armor_writer is not None else dst  # type: ignore[assignment]
    out.write(age.encode_header([stanza], file_key))
    nonce = os.urandom(NONCE_SIZE)
    out.write(nonce)
    stream.encrypt(age.payload_key(file_key, nonce), src, out, progress)
    if armor_writer is not None:
        armor_writer.finish()


def unseal(
    src: BinaryIO,
    dst: BinaryIO,
    chain: ChainInfo,
    signature: bytes,
    *,
    progress: Progress | None = None,
) -> None:
    """Decrypt a sealed file from `src` to `dst` with the beacon `signature` of its round.

    Checks, in order, each failing with one line: the file is an age file with a tlock stanza
    (FormatError); the stanza names `chain` (WrongChainError); `signature` is the chain's
    beacon for the stanza's round (BadSignatureError); the IBE proof (IntegrityError
    "invalid proof: rP check failed"); the header MAC and every payload chunk, including
    truncation and a missing payload (IntegrityError naming the header or chunk).
    Plaintext is written chunk by chunk as it is authenticated, so on error `dst` may hold a
    prefix: use unseal_file, or discard `dst` on error.
    """
    chain.check_hash()
    scheme = bls.scheme_for(chain.scheme_id)
    reader, header, _ = _open(src)
    recipients = [(s, _recipient(s)) for s in header.stanzas if s.type == STANZA_TYPE]
    if not recipients:
        raise FormatError("not a timelock file: its age header has no tlock stanza")
    mine = [(s, r) for s, r in recipients if r.chain_hash == chain.hash]
    if not mine:
        other = recipients[0][1].chain_hash
        raise WrongChainError(f"file is sealed to drand chain {other[:16]}…, not to chain {chain.hash[:16]}…")
    stanza, recipient = mine[0]
    expected = scheme.key_len + 2 * age.FILE_KEY_SIZE
    if len(stanza.body) != expected:
        raise FormatError(f"tlock stanza body has {len(stanza.body)} bytes, expected {expected} for {scheme.id}")
    bls.verify_beacon(chain, recipient.round, signature)
    file_key = ibe.decrypt(scheme, signature, stanza.body)
    age.verify_mac(header, file_key)
    nonce = reader.read(NONCE_SIZE)
    if 0 < len(nonce) < NONCE_SIZE:
        raise IntegrityError("payload is truncated: its 16-byte nonce is incomplete")
    stream.decrypt(age.payload_key(file_key, nonce or bytes(NONCE_SIZE)), reader, dst, progress)


def _write_atomically(out_path: StrPath, write: Callable[[BinaryIO], None]) -> None:
    """Run `write` on a temporary file next to `out_path`; move it into place only on success."""
    target = Path(out_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as dst:
            write(dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def seal_file(
    in_path: StrPath,
    out_path: StrPath,
    chain: ChainInfo,
    round: int,
    *,
    armor: bool = False,
    progress: Progress | None = None,
) -> None:
    """seal() from `in_path` to `out_path`; on any error nothing is written at `out_path`."""
    with open(in_path, "rb") as src:
        _write_atomically(out_path, lambda dst: seal(src, dst, chain, round, armor=armor, progress=progress))


def unseal_file(
    in_path: StrPath,
    out_path: StrPath,
    chain: ChainInfo,
    signature: bytes,
    *,
    progress: Progress | None = None,
) -> None:
    """unseal() from `in_path` to `out_path`; only fully authenticated output is ever put in place."""
    with open(in_path, "rb") as src:
        _write_atomically(out_path, lambda dst: unseal(src, dst, chain, signature, progress=progress))
