"""The offline bundle: everything a supervisor (监管) needs to verify the log without the server.

A bundle is a directory of three files (docs/audit-log.md, "Bundle"):

``checkpoint``     the signed note exactly as the log served it (C2SP tlog-checkpoint)
``log.vkey``       the log's verifier key (C2SP signed-note key text), one line
``entries.jsonl``  one line per entry in index order: ``{"leaf":"<base64>",`` followed by the
                   leaf's own JSON after its opening brace. A line is therefore a JSON object
                   holding ``leaf`` and the decoded fields (actor, index, kind, payload, tender,
                   time, v), and the decoded fields ARE the leaf bytes.

``verify_bundle`` is pure (files in, report out): it checks every line against its leaf, the
index sequence, the Merkle root against the signed checkpoint, and optionally the consistency
with an older checkpoint, and names the first bad entry.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crypto import merkle
from crypto.checkpoint import Checkpoint
from crypto.errors import CryptoError
from crypto.note import Verifier, open_note
from evaluation.audit.entry import LeafError, decode_leaf
from evaluation.audit.log import AuditLog
from evaluation.errors import ConflictError, IntegrityFailure, Text

CHECKPOINT_FILE = "checkpoint"
VKEY_FILE = "log.vkey"
ENTRIES_FILE = "entries.jsonl"
EXPORT_PAGE = 10_000

Progress = Callable[[int, int], None]
"""Called with (entries done, entries total) now and then during verification."""

_PREFIX = b'{"leaf":"'
# The canonical leaf begins with the actor object (two strings) and then the index.
_INDEX = re.compile(rb'\{"actor":\{"account":"(?:[^"\\]|\\.)*","role":"(?:[^"\\]|\\.)*"\},"index":(0|[1-9][0-9]{0,15}),')


class BundleError(IntegrityFailure):
    """The bundle does not verify; the message names the first problem found."""


@dataclass(frozen=True)
class ExportReport:
    size: int
    root: bytes


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification established."""

    size: int
    root: bytes
    origin: str
    signer: str
    """Verifier key name and ID, ``name+hexid``."""
    since_size: int | None = None


def bundle_line(leaf: bytes) -> bytes:
    """The entries.jsonl line of a leaf (with its newline). Requires canonical leaf bytes."""
    return _PREFIX + base64.b64encode(leaf) + b'",' + leaf[1:] + b"\n"


async def export_bundle(log: AuditLog, out_dir: Path, verifier_key: str) -> ExportReport:
    """Write the bundle of `log` at its latest checkpoint into `out_dir` (new or empty).

    Entries are streamed page by page. Raises ConflictError when `out_dir` holds files, and
    crypto errors when `verifier_key` does not verify the log's checkpoint.
    """
    checkpoint = await log.latest_checkpoint()
    verifier = Verifier.from_key_text(verifier_key.strip())
    open_note(checkpoint.note, [verifier])  # refuse to write a bundle that cannot verify
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ConflictError("目标目录不是空的，请导出到新目录（{path}）", path=str(out_dir))
    entries_tmp = out_dir / (ENTRIES_FILE + ".part")
    with open(entries_tmp, "wb") as out:
        for start in range(0, checkpoint.size, EXPORT_PAGE):
            leaves = await log.leaves(start, min(start + EXPORT_PAGE, checkpoint.size))
            out.write(b"".join(map(bundle_line, leaves)))
        out.flush()
        os.fsync(out.fileno())
    entries_tmp.rename(out_dir / ENTRIES_FILE)
    (out_dir / VKEY_FILE).write_text(verifier.to_key_text() + "\n")
    (out_dir / CHECKPOINT_FILE).write_bytes(checkpoint.note)
    return ExportReport(checkpoint.size, checkpoint.root)


def verify_bundle(
    directory: Path, since: bytes | None = None, progress: Progress | None = None, *, strict: bool = False
) -> VerifyReport:
    """Verify the bundle in `directory`; `since` is an older signed checkpoint to check consistency with.

    With `strict`, every leaf is also fully decoded and must be the canonical encoding of an
    entry (slower). Raises BundleError naming the first bad entry or the failed check; a missing
    file raises FileNotFoundError.
    """
    verifier = _read_vkey(directory / VKEY_FILE)
    checkpoint = _open_checkpoint((directory / CHECKPOINT_FILE).read_bytes(), verifier, "checkpoint")
    old = None if since is None else _open_checkpoint(since, verifier, "--since checkpoint")
    if old is not None and old.size > checkpoint.size:
        raise BundleError("起点检查点的条目数多于审计包（--since 检查点含 {old} 条，审计包含 {size} 条）", old=old.size, size=checkpoint.size)
    root, old_root = _fold(directory / ENTRIES_FILE, checkpoint.size, old.size if old else None, progress, strict)
    if root != checkpoint.root:
        raise BundleError(
            "审计记录与检查点的根不符，记录可能被改动：{size} 条记录给出的根为 {got}，检查点为 {want}",
            size=checkpoint.size, got=root.hex(), want=checkpoint.root.hex(),
        )
    if old is not None and old_root != old.root:
        raise BundleError(
            "审计包与起点检查点不一致，记录可能被改动：前 {size} 条记录给出的根为 {got}，--since 检查点为 {want}",
            size=old.size, got=(old_root or b"").hex(), want=old.root.hex(),
        )
    signer = f"{verifier.name}+{verifier.key_id:08x}"
    return VerifyReport(checkpoint.size, root, checkpoint.origin, signer, None if old is None else old.size)


def _read_vkey(path: Path) -> Verifier:
    try:
        return Verifier.from_key_text(path.read_text().strip())
    except (CryptoError, UnicodeDecodeError) as exc:
        raise BundleError("验证密钥文件无效：{file}（{reason}）", file=VKEY_FILE, reason=str(exc)) from None


def _open_checkpoint(note: bytes, verifier: Verifier, what: str) -> Checkpoint:
    try:
        text = open_note(note, [verifier]).text
    except CryptoError as exc:
        raise BundleError("检查点签名核验不通过：{what} 的签名不能用 {file} 核验（{reason}）", what=what, file=VKEY_FILE, reason=str(exc)) from None
    try:
        checkpoint = Checkpoint.parse(text)
    except CryptoError as exc:
        raise BundleError("检查点文件无效：{what}（{reason}）", what=what, reason=str(exc)) from None
    if checkpoint.origin != verifier.name:
        raise BundleError(
            "检查点所属的审计日志与验证密钥不符：{what} 属于 {origin}，{file} 对应 {name}",
            what=what, origin=repr(checkpoint.origin), file=VKEY_FILE, name=repr(verifier.name),
        )
    return checkpoint


_BLOCK = 1 << 22
"""Bytes of entries.jsonl read at a time."""
_CHUNK_LEVEL = 16
"""Leaf hashes are folded into complete subtrees of 2**_CHUNK_LEVEL leaves as they come."""


def _fold(
    path: Path, size: int, old_size: int | None, progress: Progress | None, strict: bool
) -> tuple[bytes, bytes | None]:
    """Check every line and fold the leaf hashes into the root (and the root at `old_size`).

    The file is read in blocks; the whole lines of a block are checked where they lie (no copy of
    the block or of its lines) by ``_hash_lines``, and the first line that fails its fast checks
    goes through ``_check_lines``, which names the bad entry. A line cut by a block boundary is
    joined with the rest of it alone. Leaf hashes are folded 2**16 at a time into complete
    subtrees (``merkle.root``), so at most about that many are held.
    """
    heads: set[bytes] = set()
    chunk = 1 << _CHUNK_LEVEL
    stack: list[bytes] = []  # compact range of the first `n` leaves (merkle.range_nodes hashes)
    pending: list[bytes] = []  # leaf hashes of entries [n, n + len(pending)), n a multiple of chunk
    old_root = merkle.EMPTY_ROOT if old_size == 0 else None
    n = 0  # leaves folded into `stack`
    done = 0  # lines checked
    carry = b""  # the start of a line cut by the end of the previous block
    with open(path, "rb", buffering=0) as file:
        while True:
            data = b""  # (the previous block is freed before the next is read: memory stays flat)
            data = file.read(_BLOCK)
            if not data:
                if carry:  # a truncated last line
                    _check_lines([carry], done, size, strict)
                break
            begin = 0
            if carry:
                first = data.find(b"\n")
                if first < 0:
                    carry += data
                    continue
                line = carry + data[: first + 1]
                pending.extend(_hash_lines(line, 0, len(line), done, size, heads, strict))
                done += 1
                begin = first + 1
            cut = data.rfind(b"\n") + 1
            if cut > begin:
                hashes = _hash_lines(data, begin, cut, done, size, heads, strict)
                done += len(hashes)
                pending.extend(hashes)
            carry = data[max(cut, begin) :]
            while len(pending) >= chunk:
                if old_size is not None and n < old_size <= n + chunk:
                    old_root = _root_after(stack, n, pending[: old_size - n])
                _stack_push(stack, n, merkle.root(pending[:chunk]), _CHUNK_LEVEL)
                n += chunk
                del pending[:chunk]
            if progress is not None:
                progress(done, size)
    if done < size:
        raise BundleError("审计包的记录不完整，缺少第 {n} 条（{file} 只有 {n} 条，检查点含 {size} 条）", n=done, file=ENTRIES_FILE, size=size)
    if old_size is not None and n < old_size:
        old_root = _root_after(stack, n, pending[: old_size - n])
    return _root_after(stack, n, pending), old_root


_LINE_START = _PREFIX + b"eyJh"
"""A line's start up to the base64 of the leaf's first three bytes, which are always ``{"a``."""
# What lies between the base64 text and the index: its closing quote and comma, then the actor
# object without its closing quote and brace. Heads repeat (one per actor), so each is matched once.
_HEAD = re.compile(rb'","actor":\{"account":"(?:[^"\\]|\\.)*","role":"(?:[^"\\]|\\.)*')


def _hash_lines(
    data: bytes, begin: int, stop: int, n: int, size: int, heads: set[bytes], strict: bool
) -> list[bytes]:
    """Leaf hashes of the lines ``data[begin:stop]`` (whole lines, each ending in a newline; entries
    `n`, `n` + 1, …), checked as ``_check_lines`` checks them.

    ``_hash_fast`` takes the lines as long as they pass its fast checks; a line that does not goes
    alone through ``_check_lines``, which raises naming it if it is bad (it may merely be unusual,
    e.g. very long). With `strict`, every line goes through ``_check_lines``, which decodes its leaf.
    """
    if strict:
        leaves = _check_lines(_lines(data, begin, stop), n, size, strict)
        return [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    hashes: list[bytes] = []
    pos = begin
    while pos < stop:
        pos = _hash_fast(data, pos, stop, n + len(hashes), size, heads, hashes.append)
        if pos < stop:
            nl = data.find(b"\n", pos, stop) + 1
            (leaf,) = _check_lines([data[pos:nl]], n + len(hashes), size, strict)
            hashes.append(hashlib.sha256(b"\x00" + leaf).digest())
            pos = nl
    return hashes


_MAX_FAST_LINE = 1 << 16
"""Lines up to this long are checked by ``_hash_fast``; longer ones by ``_check_lines``."""


@functools.cache
def _text_ends() -> list[int]:
    """For each line length, where the base64 text of a line that long ends (its closing quote),
    counted from the line's start; 0 for a length no line can have.

    A leaf of L bytes has a base64 text of B = 4·ceil(L/3) characters and a line of 9 + B + 2 +
    (L − 1) bytes without its newline (``{"leaf":"``, the text, ``",``, the leaf but its ``{``),
    which grows with L: the length of a line says where its text must end.
    """
    ends = [0] * _MAX_FAST_LINE
    for length in range(3, _MAX_FAST_LINE):
        text = (length + 2) // 3 * 4
        if text + length + 10 >= _MAX_FAST_LINE:
            break
        ends[text + length + 10] = 9 + text
    return ends


def _hash_fast(
    data: bytes, pos: int, stop: int, n: int, size: int, heads: set[bytes], add: Callable[[bytes], None]
) -> int:
    """Check the whole lines from `pos` on (entries `n`, `n` + 1, …) while they pass the fast
    checks, passing their leaf hashes to `add`; return where it stopped (`stop` when all passed).

    Each line is looked at where it lies in `data`, nothing is copied but the head. The line's
    length gives where its base64 text must end (``_text_ends``); the leaf is ``{`` followed by
    the rest of the line after that text's closing quote and comma. There must follow the head
    (the actor object without its closing quote and brace, between the text's closing quote and
    the index), which must match ``_HEAD`` (checked once per distinct head, remembered in
    `heads`), then ``"},"index":n,``: together the same as ``_INDEX`` matching with index `n` (a
    head that matches holds no ``"},"index":``, as inside a JSON string a quote is always
    escaped). The text must be ``eyJh`` (the base64 of ``{"a``, which the head confirms) followed
    by exactly the base64 of the leaf after those three bytes: then it is the base64 of the leaf.
    """
    b2a = binascii.b2a_base64
    sha256 = hashlib.sha256
    find, starts = data.find, data.startswith
    view = memoryview(data)
    ends = _text_ends()
    prefixed = sha256(b'\x00{"a')  # each leaf hash continues a copy of this one
    line_start, new_head = _LINE_START, _new_head
    for index in map(b'"},"index":%d,'.__mod__, range(n, size)):
        if pos >= stop:
            break
        nl = find(b"\n", pos, stop)
        try:
            end = pos + ends[nl - pos]
        except IndexError:
            break
        at = find(index, end, nl)
        rest = view[end + 4 : nl]
        if (
            at < 0
            or not starts(line_start, pos)
            or not starts(b2a(rest, newline=False), pos + 13)
            or (data[end:at] not in heads and not new_head(data[end:at], heads))
        ):
            break
        leaf_hash = prefixed.copy()
        leaf_hash.update(rest)
        add(leaf_hash.digest())
        pos = nl + 1
    return pos


def _lines(data: bytes, begin: int, stop: int) -> list[bytes]:
    """The lines of ``data[begin:stop]`` with their newlines (the last one may lack it)."""
    lines = data[begin:stop].split(b"\n")
    last = lines.pop()
    return [line + b"\n" for line in lines] + ([last] if last else [])


def _decode_all(leaves: list[bytes], n: int) -> None:
    """--strict: every leaf (entries `n`, `n` + 1, …) must decode as a canonical entry."""
    for i, leaf in enumerate(leaves, n):
        try:
            decode_leaf(leaf)
        except LeafError as exc:
            raise BundleError("第 {n} 条记录无效：{problem}", n=i, problem=exc.text) from None


def _new_head(head: bytes, heads: set[bytes]) -> bool:
    if _HEAD.fullmatch(head) is None:
        return False
    if len(heads) >= 1 << 16:  # a bound on memory when nearly every actor is new
        heads.clear()
    heads.add(head)
    return True


def _stack_push(stack: list[bytes], n: int, subtree: bytes, level: int) -> None:
    """Add the complete subtree of 2**level leaves starting at leaf `n` (a multiple of its width)
    to the compact range `stack` of the first `n` leaves."""
    sha256 = hashlib.sha256
    m = (n >> level) + 1
    while not m & 1:
        subtree = sha256(b"\x01" + stack.pop() + subtree).digest()
        m >>= 1
    stack.append(subtree)


def _root_after(stack: list[bytes], n: int, leaf_hashes: list[bytes]) -> bytes:
    """Root of the first ``n + len(leaf_hashes)`` leaves, from the compact range `stack` of the
    first `n`. Requires `n` to be a multiple of the smallest power of two >= ``len(leaf_hashes)``."""
    grown = list(stack)
    start = 0
    for level in range(len(leaf_hashes).bit_length() - 1, -1, -1):
        width = 1 << level
        if len(leaf_hashes) - start >= width:
            _stack_push(grown, n + start, merkle.root(leaf_hashes[start : start + width]), level)
            start += width
    return merkle.fold_range(grown)


def _check_lines(lines: list[bytes], n: int, size: int, strict: bool) -> list[bytes]:
    """The leaves of `lines` (entries `n`, `n` + 1, …, each with its newline but a truncated last
    one) checked one by one, as the bundle format says.

    With `strict`, each leaf is also decoded. Raises BundleError naming the first bad entry.
    """
    b2a = binascii.b2a_base64
    match_index = _INDEX.match
    leaves = []
    for line in lines:
        if n >= size:
            raise BundleError("审计包的记录多于检查点所含的条数（第 {n} 条多出，检查点含 {size} 条）", n=n, size=size)
        if not line.startswith(_PREFIX) or line[-1:] != b"\n":
            raise BundleError(_line_problem(n, line))
        end = line.find(b'"', 9)  # base64 holds no quote: the first one closes it
        leaf = b"{" + line[end + 2 : -1]  # the decoded fields, which must be the leaf itself
        # Canonical base64 is unique, so "encodes to the given text" == "the text decodes to it".
        if end < 0 or line[end : end + 2] != b'",' or b2a(leaf, newline=False) != line[9:end]:
            raise BundleError(_leaf_problem(n, line[9:end]))
        found = match_index(leaf)
        if found is None or int(found[1]) != n:
            raise BundleError(_sequence_problem(n, None if found is None else int(found[1])))
        if strict:
            try:
                decode_leaf(leaf)
            except LeafError as exc:
                raise BundleError("第 {n} 条记录无效：{problem}", n=n, problem=exc.text) from None
        leaves.append(leaf)
        n += 1
    return leaves


def _leaf_problem(n: int, text: bytes) -> Text:
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        return Text("第 {n} 条记录的签名数据无效（不是有效的 base64）", n=n)
    return Text("第 {n} 条记录与其签名数据不符", n=n)


def _line_problem(n: int, line: bytes) -> Text:
    if not line.endswith(b"\n"):
        return Text("第 {n} 条记录不完整（{file} 的末尾没有换行）", n=n, file=ENTRIES_FILE)
    return Text("第 {n} 条记录格式不对（每行须以 {prefix} 开头）", n=n, prefix=_PREFIX.decode())


def _sequence_problem(expected: int, found: int | None) -> Text:
    if found is None:
        return Text("第 {n} 条记录缺少序号（规范编码放序号的位置没有序号）", n=expected)
    where = Text("在第 {prev} 条之后", prev=expected - 1) if expected else Text("在开头")
    if found > expected:
        return Text("缺少第 {n} 条记录（{where}见到第 {found} 条）", n=expected, where=where, found=found)
    return Text("第 {n} 条记录顺序错乱（{where}见到第 {found} 条）", n=expected, where=where, found=found)
