"""Processes the fault tests start, stop and kill: ``pingbiao serve`` on a loopback port, and a
private PostgreSQL server in a temporary directory (never the machine's shared one).

Every wait polls a condition against a deadline; a process that does not come up in time is
killed and its log shown in the failure."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


# The launcher: a Python process that has imported the platform once and forks a `pingbiao serve`
# (web.cli.main.main(["serve", …]), exactly what `python -m web.cli serve` runs) per request, so a
# restart costs a fork instead of seconds of imports on a busy 2-core machine. It starts no thread
# and no event loop before forking. PINGBIAO_FAULT_EXEC=1 starts every process with exec instead.
_LAUNCHER = r"""
import json, os, signal, sys
import importlib
import web.app, web.cli.main, web.cli.serve  # noqa: the imports a serve process needs, done once
for name in ("alembic.command", "alembic.runtime.migration", "alembic.script", "mako.template", "pygments.lexers",
             "prometheus_client", "aiosqlite", "asyncpg", "sqlalchemy.dialects.sqlite.aiosqlite",
             "sqlalchemy.dialects.postgresql.asyncpg", "evaluation.migrations"):  # imported at start-up
    try:
        importlib.import_module(name)
    except ImportError:
        pass
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
for line in sys.stdin:
    order = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.clear()
        os.environ.update(order["env"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = web.cli.main.main(order["argv"])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
"""


class Launcher:
    """Forks `pingbiao serve` processes from one warmed-up parent (see _LAUNCHER)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})

    def spawn(self, argv: list[str], env: dict[str, str], log_path: Path) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "env": env, "log": str(log_path)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line.strip().isdigit(), f"the launcher did not fork: {line!r}"
        return int(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Serve:
    """One ``pingbiao serve`` process on a free loopback port; its stderr goes to `log_path`.
    Forked by `launcher` when given (and PINGBIAO_FAULT_EXEC is not set), else started with exec."""

    def __init__(self, env: dict[str, str], log_path: Path, launcher: Launcher | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full = {**os.environ, **env, "PINGBIAO_HOST": "127.0.0.1", "PINGBIAO_PORT": str(self.port),
                "PINGBIAO_JANUS": "off"}
        full.pop("PINGBIAO_CONFIG", None)
        argv = ["serve", "--port", str(self.port)]
        self._popen: subprocess.Popen[bytes] | None = None
        if launcher is not None and not os.environ.get("PINGBIAO_FAULT_EXEC"):
            self.pid = launcher.spawn(argv, full, log_path)
        else:
            with open(log_path, "ab") as log:
                self._popen = subprocess.Popen([sys.executable, "-m", "web.cli", *argv], cwd=ROOT, env=full,
                                               stdout=log, stderr=log, start_new_session=True)
            self.pid = self._popen.pid

    def alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return _alive(self.pid)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_up(self, timeout: float = START_TIMEOUT) -> None:
        """Until /healthz answers (the app has started: its audit log checked, its jobs running)."""
        def up() -> bool:
            if not self.alive():
                raise AssertionError(f"pingbiao serve exited:\n{self.log_text()[-3000:]}")
            return http_get(self.url + "/healthz", timeout=1)[0] == 200
        try:
            poll(up, timeout, "pingbiao serve to answer /healthz", interval=0.01)
        except AssertionError:
            self.kill9()
            raise

    def kill9(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self._wait_gone()

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not end in time."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._wait_gone(15)
            except AssertionError:
                pass
        self.kill9()

    def _wait_gone(self, timeout: float = 15) -> None:
        if self._popen is not None:
            self._popen.wait(timeout=timeout)
            return
        poll(lambda: not _alive(self.pid), timeout, f"process {self.pid} to end", interval=0.002)


def postgres_bin() -> Path | None:
    """The directory of Debian's initdb/pg_ctl/postgres, newest version first, or None."""
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if all(os.access(os.path.join(directory, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    return None


class PrivatePostgres:
    """A PostgreSQL server of our own: initdb in a new temporary directory, trust auth, loopback
    only, a free port. ``start``/``stop`` may be repeated (stop is ``-m fast``: every session is cut
    off, as in a restart of the server). ``close`` stops it and removes the directory.

    Skips (fails under CI=true) when the server binaries are missing. As root (where initdb
    refuses to run) the server runs as the ``postgres`` account, if there is one."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        need(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql) are not installed")
        assert bin_dir is not None
        self._user: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                need(False, "running as root without a postgres account: initdb does not run as root")
                raise
            self._user = (entry.pw_uid, entry.pw_gid)
        self.bin, self.port = bin_dir, free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pingbiao-faults-pg-"))
        if self._user is not None:
            os.chown(self.dir, *self._user)
        self.data = self.dir / "pgdata"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_user(self) -> None:
        assert self._user is not None
        os.setgid(self._user[1])
        os.setuid(self._user[0])

    def _run(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.bin / exe), *args], check=False, capture_output=True, text=True, timeout=60,
                              cwd=self.dir, preexec_fn=self._as_user if self._user else None)
        if check:
            assert done.returncode == 0, f"{exe} {args[:1]}: {done.stderr}{done.stdout}\n{self.log_tail()}"
        return done

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def log_tail(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=40"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "start", "-w", "-t", "30", "-o", opts)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "stop", "-w", "-t", "30", "-m", "fast")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "stop", "-w", "-t", "30", "-m", "immediate", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
