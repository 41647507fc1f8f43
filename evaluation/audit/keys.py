"""The log's signing key: one file in the data directory, created once, never overwritten."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from crypto.note import Signer, generate_key
from evaluation.errors import ConflictError

log = logging.getLogger(__name__)


def load_or_create_signer(path: Path, origin: str) -> tuple[Signer, str]:
    """The signer stored at `path` and its verifier key text; a new key is made if none exists.

    The key is named after `origin` (as C2SP checkpoints expect) and written with mode 0600 by an
    exclusive create, so an existing key is never replaced. Raises ConflictError when the stored
    key belongs to another origin, crypto FormatError when the file is not a signer key.
    """
    if not path.exists():
        skey, _ = generate_key(origin)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # created concurrently: read that one below
        else:
            with os.fdopen(fd, "w") as out:
                out.write(skey + "\n")
                out.flush()
                os.fsync(out.fileno())
            log.info("created audit log signing key", extra={"path": str(path), "origin": origin})
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("audit log key is readable by others", extra={"path": str(path), "mode": oct(mode)})
    signer = Signer.from_key_text(path.read_text().strip())
    if signer.name != origin:
        raise ConflictError(
            "密钥文件属于其他审计日志：{path} 存的是日志 {name} 的密钥，而不是 {origin} 的",
            path=str(path), name=repr(signer.name), origin=repr(origin),
        )
    return signer, signer.verifier().to_key_text()
