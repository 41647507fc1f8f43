"""Processes the fault tests start, stop and kill: ``pingbiao serve`` on a loopback port, and a
private PostgreSQL server in a temporary directory (never the machine's shared one).

Every wait polls a condition against a deadline; a process that does not come up in time is
killed and its log shown in the failure."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.005) -> object:
    """Call `condition` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Serve:
    """One ``pingbiao serve`` process on a free loopback port; its stderr goes to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full = {**os.environ, **env, "PINGBIAO_HOST": "127.0.0.1", "PINGBIAO_PORT": str(self.port),
                "PINGBIAO_JANUS": "off"}
        full.pop("PINGBIAO_CONFIG", None)
        self._log = open(log_path, "ab")  # noqa: SIM115 — closed in wait()
        self.proc = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(self.port)],
                                     cwd=ROOT, env=full, stdout=self._log, stderr=self._log, start_new_session=True)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self, timeout: float = START_TIMEOUT) -> None:
        """Until /healthz answers (the app has started: its audit log checked, its jobs running)."""
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"pingbiao serve exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            return http_get(self.url + "/healthz", timeout=1)[0] == 200
        try:
            poll(up, timeout, "pingbiao serve to answer /healthz", interval=0.02)
        except AssertionError:
            self.kill9()
            raise

    def kill9(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.wait()

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not end in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.kill9()

    def wait(self) -> None:
        self.proc.wait(timeout=15)
        self._log.close()


def postgres_bin() -> Path | None:
    """The directory of Debian's initdb/pg_ctl/postgres, newest version first, or None."""
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if all(os.access(os.path.join(directory, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    return None


class PrivatePostgres:
    """A PostgreSQL server of our own: initdb in `directory`, trust auth, loopback, a free port.

    ``start``/``stop`` may be repeated (stop is ``-m fast``: sessions are cut off, as in a restart).
    Skips (fails under CI=true) when the server binaries are missing; refuses to run as root,
    where initdb would refuse."""

    def __init__(self, directory: Path) -> None:
        bin_dir = postgres_bin()
        need(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        need(os.geteuid() != 0, "initdb does not run as root")
        assert bin_dir is not None
        self.bin, self.dir, self.port = bin_dir, directory, free_port()
        self.data = directory / "pgdata"
        self.sockets = directory / "sock"
        self.sockets.mkdir(parents=True)
        done = subprocess.run([str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                               "--no-sync", "-E", "UTF8", "--locale=C"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def _ctl(self, *args: str) -> None:
        done = subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "postgres.log"), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"pg_ctl {args[0]}: {done.stderr}{done.stdout}\n{self.log_tail()}"

    def log_tail(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} -c fsync=off -c max_connections=50"
        self._ctl("start", "-w", "-t", "30", "-o", opts)

    def stop(self) -> None:
        self._ctl("stop", "-w", "-t", "30", "-m", "fast")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", "-w"],
                           capture_output=True, timeout=60)
