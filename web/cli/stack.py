"""`pingbiao stack up DIR` / `down DIR` / `status DIR`: the production topology (web/ops/stack.py)
as processes on this machine, without containers: nginx with TLS in front of two `pingbiao serve`
processes sharing one PostgreSQL database, one data directory and Redis as the signaling bus,
coturn and Janus. PostgreSQL is the operator's server (`--database-url`); everything else is
started here, on free loopback ports unless given, with its config, logs and pid under DIR.

docker-compose.yml describes the same services for containers (docs/operations.md). A TLS
certificate is made for localhost unless `--certificate`/`--certificate-key` are given. Without
`--beacon` the app runs on its embedded beacon, which is for a demonstration only.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web.config import Settings
from web.errors import UsageError
from web.ops import stack as plan

STATE = "stack.json"
START_TIMEOUT = 90.0
"""Seconds one service may take to answer after it is started."""


def add_stack_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    stack = sub.add_parser("stack", help="the production stack on this machine: nginx (TLS), 2 app processes, Redis, coturn, Janus")
    ssub = stack.add_subparsers(dest="stack_command", required=True, metavar="ACTION")
    p = ssub.add_parser("up", help="start every service of the stack and wait until it serves through nginx")
    p.add_argument("dir", metavar="DIR", help="where the stack keeps its data directory, configs, logs and pids")
    p.add_argument("--database-url", required=True, help="the PostgreSQL database the app processes share")
    p.add_argument("--https-port", type=int, default=8443, help="nginx's TLS port (default 8443; 0: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address nginx and coturn listen on (default 127.0.0.1)")
    p.add_argument("--redis-url", help="use this Redis instead of starting one")
    p.add_argument("--certificate", help="TLS certificate (PEM) for nginx; default: a self-signed one for localhost")
    p.add_argument("--certificate-key", help="its private key (PEM)")
    p.add_argument("--beacon", metavar="URL", help="a drand HTTP endpoint (else the embedded beacon: demonstration only)")
    p.add_argument("--chain", metavar="HASH", help="the chain hash to pin at --beacon")
    for name, text in (("down", "stop every service the stack started"), ("status", "print each service and whether it runs")):
        p = ssub.add_parser(name, help=text)
        p.add_argument("dir", metavar="DIR")


def run_stack_command(args: argparse.Namespace, settings: Settings) -> int:
    root = Path(args.dir).resolve()
    if args.stack_command == "up":
        return up(root, args)
    if args.stack_command == "down":
        return down(root)
    return status(root)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) does not run
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _read_state(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / STATE).read_text())
    except FileNotFoundError:
        raise UsageError(f"该目录中没有运行的服务栈 no stack in {root} (no {STATE}); start one with `pingbiao stack up {root}`") from None


def self_signed(cert: Path, key: Path, host: str) -> None:
    """A certificate for localhost and `host`, valid 30 days (for a test or a demonstration)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pingbiao stack")])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(alt))), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    os.chmod(key, 0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _need(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        raise UsageError(f"未安装 {name}：{name} is not installed (Debian package {'coturn' if name == 'turnserver' else name})")
    return path


class Starter:
    """Starts the stack's processes, each in its own session with its log under DIR/logs, and
    remembers them so a failure stops what was started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.services: dict[str, dict[str, Any]] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, **info: Any) -> subprocess.Popen[bytes]:
        log = open(self.root / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **(env or {})}, cwd=self.root)
        log.close()
        self.services[name] = {"pid": proc.pid, "cmd": cmd[0], **info}
        return proc

    def wait(self, name: str, proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if proc.poll() is not None:
                raise UsageError(f"{name}启动时退出 {name} exited with status {proc.returncode} while starting; see {self.root}/logs/{name}.log")
            if time.monotonic() > deadline:
                raise UsageError(f"{name}启动后未按时响应 {name} did not answer within {START_TIMEOUT:g} s; see {self.root}/logs/{name}.log")
            time.sleep(0.1)  # between readiness probes of a starting process


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def up(root: Path, args: argparse.Namespace) -> int:
    if (root / STATE).exists():
        state = json.loads((root / STATE).read_text())
        if any(_alive(s["pid"]) for s in state["services"].values()):
            raise UsageError(f"该目录中已有服务栈在运行 a stack already runs in {root}; stop it with `pingbiao stack down {root}`")
        (root / STATE).unlink()
    if not args.database_url.startswith("postgresql"):
        raise UsageError("参数 --database-url 须为 PostgreSQL 数据库地址 --database-url must name a PostgreSQL database (postgresql+asyncpg://user@host/db)")
    if bool(args.certificate) != bool(args.certificate_key):
        raise UsageError("参数 --certificate 和 --certificate-key 须同时给出 give --certificate and --certificate-key together")
    for sub in ("logs", "tls", "nginx/tmp", "redis", "coturn", "janus"):
        (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    starter = Starter(root)
    try:
        state = _up(root, args, starter)
    except BaseException:
        _stop_all(starter.services)
        raise
    (root / STATE).write_text(json.dumps(state, indent=1))
    print(f"stack up: {state['url']} (nginx → app1 :{state['services']['app1']['port']}, app2 "
          f":{state['services']['app2']['port']}); stop with `pingbiao stack down {root}`")
    return 0


def _up(root: Path, args: argparse.Namespace, starter: Starter) -> dict[str, Any]:
    from signaling.janus.launcher import JanusConfig, _lib_dir, write_config

    host = args.host
    https_port = args.https_port or free_port(host)
    cert, key = (Path(args.certificate), Path(args.certificate_key)) if args.certificate else \
        (root / "tls" / "cert.pem", root / "tls" / "key.pem")
    if not args.certificate:
        self_signed(cert, key, host)
    nginx, turnserver, janus = _need("nginx"), _need("turnserver"), _need("janus")

    bus_url = args.redis_url
    if not bus_url:
        port = free_port()
        proc = starter.start("redis", [_need("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", str(root / "redis")], port=port)
        starter.wait("redis", proc, lambda: _redis_ok(port))
        bus_url = f"redis://127.0.0.1:{port}/0"
    _say(f"redis: {bus_url}")

    _lib_dir()  # the VideoRoom plugin is there
    jcfg = JanusConfig(root / "janus", free_port(), free_port(), secrets.token_hex(16))
    conf = write_config(jcfg)
    proc = starter.start("janus", [janus, "-F", str(jcfg.directory), "-C", str(conf)], port=jcfg.port)
    starter.wait("janus", proc, lambda: _http_ok(f"{jcfg.url}/info"))
    _say(f"janus: {jcfg.url}")

    turn = plan.Turn(port=free_port(host), secret=secrets.token_urlsafe(24), listen_ip=host, prefix=str(root / "coturn"))
    proc = starter.start("coturn", [turnserver, *plan.turnserver_args(turn)], port=turn.port)
    starter.wait("coturn", proc, lambda: _tcp_open(host, turn.port))
    _say(f"coturn: turn:{host}:{turn.port}")

    public_url = f"https://{'localhost' if host == '127.0.0.1' else host}:{https_port}"
    env = plan.app_environment(database_url=args.database_url, bus_url=bus_url, turn_host=host, turn_port=turn.port,
                               turn_secret=turn.secret, janus_url=jcfg.url, public_url=public_url,
                               beacon_url=args.beacon or "", beacon_chain=args.chain or "")
    data = root / "data"
    upstreams = []
    for name in plan.APP_SERVICES:  # one after the other: the first creates the keys and migrates
        port = free_port()
        cmd = [sys.executable, "-m", "web.cli", "serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
        proc = starter.start(name, cmd, env={**env, "PINGBIAO_DATA_DIR": str(data)}, port=port)
        starter.wait(name, proc, lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"))
        upstreams.append(f"127.0.0.1:{port}")
        _say(f"{name}: http://127.0.0.1:{port}")

    conf_path = root / "nginx" / "nginx.conf"
    conf_path.write_text(plan.nginx_conf(plan.Nginx(https_port=https_port, upstreams=tuple(upstreams),
                                                    certificate=str(cert), certificate_key=str(key),
                                                    prefix=str(root / "nginx"), listen_host=host,
                                                    run_as_root=os.geteuid() == 0)))
    prefix = ["-p", str(root / "nginx"), "-c", str(conf_path)]
    checked = subprocess.run([nginx, "-t", *prefix], capture_output=True, text=True)
    if checked.returncode != 0:
        lines = [ln for ln in checked.stderr.splitlines() if "emerg" in ln or "error" in ln] or checked.stderr.splitlines()
        raise UsageError(f"网页服务器 nginx 拒绝了配置 nginx refused its config: {lines[0] if lines else checked.returncode}")
    proc = starter.start("nginx", [nginx, *prefix, "-g", "daemon off;"], port=https_port)
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://{'localhost' if host == '127.0.0.1' else host}:{https_port}"
    starter.wait("nginx", proc, lambda: _http_ok(f"{url}/readyz", context))
    return {"url": url, "certificate": str(cert), "data_dir": str(data), "database_url": args.database_url,
            "bus_url": bus_url, "janus_url": jcfg.url, "turn": f"turn:{host}:{turn.port}", "services": starter.services}


_STOP_SIGNAL = {"nginx": signal.SIGQUIT, "janus": signal.SIGINT}
"""Each service's graceful stop (nginx finishes its requests on QUIT; Janus shuts down on INT)."""


def _stop_all(services: dict[str, dict[str, Any]]) -> list[str]:
    """Stop the recorded processes, front first (nginx, the apps, then what they use); returns the
    names that had to be killed."""
    order = [n for n in plan.SERVICES if n in services] + [n for n in services if n not in plan.SERVICES]
    killed = []
    for name in order:
        pid = services[name]["pid"]
        if not _alive(pid):
            continue
        try:
            os.kill(pid, _STOP_SIGNAL.get(name, signal.SIGTERM))
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)  # between checks that the process has exited
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            killed.append(name)
        _reap(pid)
    return killed


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def down(root: Path) -> int:
    state = _read_state(root)
    killed = _stop_all(state["services"])
    (root / STATE).unlink()
    note = f" ({', '.join(killed)} did not stop in time and were killed)" if killed else ""
    print(f"stack down: stopped {', '.join(state['services'])}{note}")
    return 0


def status(root: Path) -> int:
    state = _read_state(root)
    running = True
    for name, svc in state["services"].items():
        alive = _alive(svc["pid"])
        running &= alive
        print(f"{name:7} {'running' if alive else 'stopped'}  pid {svc['pid']}  port {svc.get('port', '')}")
    print(f"url {state['url']}")
    return 0 if running else 1

