"""Start Janus as a child process with a generated config, wait for it to answer, stop it.

The config holds only what the booth needs: the VideoRoom plugin, the HTTP transport on loopback
(public API and admin API, the latter behind a secret). Everything else Debian ships is disabled.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiohttp

LIB_DIRS = ("/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus")
KEEP_PLUGINS = {"libjanus_videoroom.so"}
KEEP_TRANSPORTS = {"libjanus_http.so"}


class JanusUnavailable(RuntimeError):
    """Janus is not installed or did not answer in time."""


def janus_executable() -> str | None:
    return shutil.which("janus")


def _lib_dir() -> Path:
    for d in LIB_DIRS:
        if (Path(d) / "plugins" / "libjanus_videoroom.so").exists():
            return Path(d)
    raise JanusUnavailable("the Janus VideoRoom plugin is not installed (Debian package janus)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _disable(folder: Path, keep: set[str]) -> str:
    names = sorted(p.name for p in folder.glob("*.so") if p.name not in keep)
    return ",".join(names)


@dataclass(frozen=True)
class JanusConfig:
    directory: Path
    port: int
    admin_port: int
    admin_secret: str
    rtp_ports: str = "20000-40000"
    nat_1_1: str = ""  # extra address list for ICE, empty for the host's own

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/admin"


def write_config(cfg: JanusConfig) -> Path:
    """Write janus.jcfg and the two plugin/transport files into cfg.directory; returns janus.jcfg."""
    lib = _lib_dir()
    d = cfg.directory
    d.mkdir(parents=True, exist_ok=True)
    (d / "janus.jcfg").write_text(f"""general: {{
\tconfigs_folder = "{d}"
\tplugins_folder = "{lib / 'plugins'}"
\ttransports_folder = "{lib / 'transports'}"
\tevents_folder = "{lib / 'events'}"
\tloggers_folder = "{lib / 'loggers'}"
\tlog_to_stdout = true
\tdebug_level = 4
\tadmin_secret = "{cfg.admin_secret}"
\tsession_timeout = 60
\tprotected_folders = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var"]
}}
media: {{
\trtp_port_range = "{cfg.rtp_ports}"
}}
nat: {{
\tnice_debug = false
\tignore_mdns = true
}}
plugins: {{
\tdisable = "{_disable(lib / 'plugins', KEEP_PLUGINS)}"
}}
transports: {{
\tdisable = "{_disable(lib / 'transports', KEEP_TRANSPORTS)}"
}}
events: {{
\tbroadcast = false
}}
loggers: {{
\tdisable = "libjanus_jsonlog.so"
}}
""")
    (d / "janus.transport.http.jcfg").write_text(f"""general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tport = {cfg.port}
\tip = "127.0.0.1"
\thttps = false
}}
admin: {{
\tadmin_base_path = "/admin"
\tadmin_http = true
\tadmin_port = {cfg.admin_port}
\tadmin_ip = "127.0.0.1"
\tadmin_https = false
}}
""")
    (d / "janus.plugin.videoroom.jcfg").write_text("general: {\n\tstring_ids = false\n}\n")
    return d / "janus.jcfg"


async def wait_ready(url: str, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> dict:
    """Poll GET URL/info until Janus answers; raise JanusUnavailable at the deadline (loop time)."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        while True:
            if proc is not None and proc.poll() is not None:
                raise JanusUnavailable(f"janus exited with status {proc.returncode} while starting")
            try:
                async with http.get(f"{url}/info", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    info = await r.json(content_type=None)
                    if info.get("janus") == "server_info":
                        return info
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            if loop.time() > deadline:
                raise JanusUnavailable(f"janus did not answer at {url} in time")
            await asyncio.sleep(0.05)  # polling interval between connection attempts, not a wait for an event


class JanusProcess:
    """A Janus child process with its own config directory."""

    def __init__(self, cfg: JanusConfig, log_path: Path | None = None) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_path or cfg.directory / "janus.log"
        self.info: dict = {}

    @classmethod
    def in_directory(cls, directory: Path, admin_secret: str) -> "JanusProcess":
        return cls(JanusConfig(Path(directory), free_port(), free_port(), admin_secret))

    @property
    def url(self) -> str:
        return self.cfg.url

    async def start(self, timeout: float = 15.0) -> None:
        exe = janus_executable()
        if exe is None:
            raise JanusUnavailable("janus is not installed (Debian packages janus, janus-tools)")
        jcfg = write_config(self.cfg)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [exe, "-F", str(self.cfg.directory), "-C", str(jcfg)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            self.info = await wait_ready(self.url, deadline, self.proc)
        except BaseException:
            await self.stop()
            raise

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # Janus shuts down cleanly on SIGINT
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
