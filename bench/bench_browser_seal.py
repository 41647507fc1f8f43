"""Benchmark browser sealing in headless Chromium: the sealing worker against the raw AEAD it is made of.

Run from the repository root:  python bench/bench_browser_seal.py [--mb 1024] [--repeat 2]

The real application on loopback, a bidder signed in on the real bid page, one document of
`--mb` MiB of random bytes picked through the page's file input. In the same browser, the same
worker bundle (/static/vendor/pingbiao-seal-worker.js), on the same file:

1. raw AEAD: ChaCha20-Poly1305 (@stablelib, the library and the 64 KiB chunks of the age payload)
   over the file's bytes, only the cipher calls timed — the reference;
2. hash: the SHA-256 of the document (the container's manifest needs it before the payload);
3. seal: the streamed seal pass in the worker (reading slices, container, STREAM), no upload —
   1 and 3 alternate `--repeat` times, the best of each counts;
4. upload only: the same number of bytes in the same 8 MiB parts PUT by the worker to a route that
   drops them — what Chromium's upload alone reaches here, the ceiling of 5 and 6;
5. seal + upload: the seal pass in the worker, each part PUT to the upload session as it is sealed;
6. the bid page itself: click 加密并投标 with the document picked, to the receipt — hash (started
   when the file is picked), seal and upload in parts as it goes, the server storing the blob.

Printed: each throughput, the ratios seal/raw AEAD and page/raw AEAD (limit 70 % for seal),
main-thread long tasks (PerformanceObserver 'longtask') during step 6 (limit: none over 100 ms),
and the peak RSS of the tab's renderer process (dedicated workers live in it), of the browser process and of all
Chromium processes, sampled from /proc every 100 ms (steps 1+3, 5, 6) (limit 400 MB for the tab).
`performance.measureUserAgentSpecificMemory` is not used: it needs a cross-origin-isolated page
(COOP + COEP), which the bid page is not.

tests/test_bench_browser_seal.py runs a short form, so that the script cannot rot.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from crypto import tlock
from evaluation.accounts.account import Role, create_account
from evaluation.tenders import tender as tenders
from evaluation.tenders.bid_container import MAGIC
from web.access import permissions
from web.api.tenders import TENDERS
from web.app import create_app
from web.config import Settings
from web.keys import AUDIT_LOG, CHAIN, LOCAL_BEACON

PASSWORD = "bench horse battery staple"
RATIO_LIMIT = 0.70
LONG_TASK_LIMIT_MS = 100
TAB_RSS_LIMIT_MB = 400
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MIB = 1 << 20

LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: "longtask", buffered: true });
"""

# Runs a job in a fresh sealing worker and resolves to its last message.
IN_WORKER = """
async (job) => {
  const files = [...document.querySelector("#documents").files];
  const w = new Worker("/static/vendor/pingbiao-seal-worker.js");
  const done = new Promise((resolve, reject) => {
    w.onmessage = ({ data }) => {
      if (data.type === "done" || data.type === "hashed") resolve(data);
      else if (data.type === "error") reject(new Error(data.message));
    };
    w.onerror = (e) => reject(new Error(e.message));
  });
  if (job.type === "bench-upload") job.csrf = pb.csrf();
  if (job.type === "seal") {
    job.chain = await pingbiao.chainFromBeacon(job.beacon, job.chainHash);
    job.record = { total_price: "1,268,000.00", delivery_days: 30 };
    job.upload = job.uploadUrl ? { url: job.uploadUrl, csrf: pb.csrf() } : null;
  }
  w.postMessage({ ...job, files });
  try { return await done; } finally { w.terminate(); }
}
"""


def _descendants(root: int) -> list[int]:
    """This process's descendants (the Playwright driver and the Chromium it launched), not other users'."""
    children: dict[int, list[int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def chromium_rss() -> dict[str, int]:
    """RSS in bytes of our Chromium's processes: the largest renderer (the tab, its workers in it) and the sum of all."""
    renderer, browser, total = 0, 0, 0
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if b"chromium" not in cmdline:
            continue
        rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        total += rss
        if b"--type=renderer" in cmdline:
            renderer = max(renderer, rss)
        elif b"--type=" not in cmdline:
            browser = max(browser, rss)
    return {"renderer": renderer, "browser": browser, "total": total}


class RssSampler:
    def __init__(self) -> None:
        self.peak = {"renderer": 0, "browser": 0, "total": 0}
        self.paused = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            if self.paused:
                await asyncio.sleep(0.1)
                continue
            now = chromium_rss()
            for k in self.peak:
                self.peak[k] = max(self.peak[k], now[k])
            await asyncio.sleep(0.1)  # a sampling period, not a wait for an event

    def __enter__(self) -> RssSampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def mbps(n: int, seconds: float) -> float:
    return n / MIB / seconds if seconds > 0 else float("inf")


async def run(size_mb: int, repeat: int) -> None:
    from playwright.async_api import async_playwright

    size = size_mb * MIB
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        doc = tmp_path / "技术标书.bin"
        with doc.open("wb") as f:
            for _ in range(size_mb):
                f.write(os.urandom(MIB))
        settings = Settings(data_dir=tmp_path / "data", beacon_period=1)
        app = create_app(settings)
        app.add_routes([web.put("/bench/sink", sink, name="bench.sink")])
        permissions.RULES["bench.sink"] = permissions.Rule(permissions.SIGNED_IN, "benchmark: an upload that is read and dropped")
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        try:
            agency = await create_account(app[AUDIT_LOG], username="agency", password=PASSWORD,
                                          display_name="招标代理", role=Role.agency, organization="采购中心")
            await create_account(app[AUDIT_LOG], username="bidder", password=PASSWORD,
                                 display_name="供应商", role=Role.bidder, organization="供应商有限公司")
            ctx: tenders.TenderContext = app[TENDERS]
            spec = {"title": "基准测试 benchmark", "method": "open", "budget_fen": 150_000_000,
                    "opening_time": int(time.time() + 3600), "min_bids": 3, "objection_window_s": 60,
                    "max_bid_bytes": min(2048 * MIB, size + 8 * MIB)}
            t = await tenders.publish(ctx, agency.actor, (await tenders.create(ctx, agency.actor, "采购中心", spec)).id)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                try:
                    sha = await measure(browser, base, t, doc, size, size_mb, repeat)
                finally:
                    await browser.close()
            opened_equal(app, tmp_path / "data", t.opening_round, sha, doc)
        finally:
            await runner.cleanup()


async def sink(request: web.Request) -> web.Response:
    """Reads the body and drops it: the upload reference (Chromium's own upload speed here)."""
    n = 0
    async for chunk in request.content.iter_chunked(MIB):
        n += len(chunk)
    return web.json_response({"received": n})


class _Digest:
    def __init__(self) -> None:
        self.hash, self.size = hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def opened_equal(app: web.Application, data_dir: Path, round: int, sha: str, doc: Path) -> None:
    """Open the stored bid as the opening does (crypto.tlock.unseal) and compare it with the
    container of the record and document, streaming both through SHA-256. The bench holds the
    local beacon's key, so it makes the round's signature now instead of waiting for its time."""
    blob = next(p for p in (data_dir / "blobs").rglob(sha) if p.is_file())
    doc_hash = hashlib.sha256()
    with doc.open("rb") as f:
        while piece := f.read(MIB):
            doc_hash.update(piece)
    manifest = {"record": {"total_price": "1,268,000.00", "delivery_days": 30},
                "documents": [{"name": doc.name, "size": doc.stat().st_size, "sha256": doc_hash.hexdigest()}]}
    expected = _Digest()
    expected.write(MAGIC + json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    with doc.open("rb") as f:
        while piece := f.read(MIB):
            expected.write(piece)
    opened = _Digest()
    signature = app[LOCAL_BEACON]._sign(round)  # ahead of the round's time: see the docstring
    with blob.open("rb") as f:
        tlock.unseal(f, opened, app[CHAIN], signature)
    same = (opened.size, opened.hash.digest()) == (expected.size, expected.hash.digest())
    print(f"opened with the round's signature: {opened.size} bytes, "
          f"{'byte for byte the container of the record and document' if same else 'NOT the container'}")
    if not same:
        raise SystemExit(1)


async def measure(browser: Any, base: str, t: Any, doc: Path, size: int, size_mb: int, repeat: int) -> str:
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(30 * 60_000)
    await page.add_init_script(LONG_TASKS)
    await page.goto(f"{base}/login?next=/tenders")
    await page.fill("input[name=username]", "bidder")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/tenders")
    await page.goto(f"{base}/tenders/{t.id}/bid")
    idle_rss = chromium_rss()
    await page.set_input_files("#documents", [doc])
    await page.wait_for_function("() => document.querySelector('#documents').files.length === 1")

    # Raw AEAD and the seal pass alternate, `repeat` times each, and the best of each counts (the
    # first runs also warm the JIT up; the machine may be shared).
    hashed = await page.evaluate(IN_WORKER, {"type": "hash"})
    seal_job = {"type": "seal", "round": t.opening_round, "hashes": hashed["hashes"],
                "beacon": f"{base}/beacon", "chainHash": t.chain_hash}
    aeads, seals = [], []
    with RssSampler() as aead_rss, RssSampler() as seal_rss:
        for _ in range(repeat):
            seal_rss.paused = True
            aeads.append(await page.evaluate(IN_WORKER, {"type": "bench-aead"}))
            seal_rss.paused, aead_rss.paused = False, True
            seals.append(await page.evaluate(IN_WORKER, seal_job))
            aead_rss.paused = False
    aead = min(aeads, key=lambda r: r["aeadSeconds"])
    sealed = min(seals, key=lambda r: r["sealSeconds"])
    upload_only = (await page.evaluate(IN_WORKER, {"type": "bench-upload", "url": f"{base}/bench/sink", "size": size}))["uploadSeconds"]
    print(f"upload only (worker, the same 8 MiB parts as Blobs, of zeros, to a route that drops them): {upload_only:.2f} s = "
          f"{mbps(size, upload_only):.1f} MiB/s", flush=True)
    with RssSampler() as upload_rss:
        uploaded = await page.evaluate(IN_WORKER, {"type": "seal", "round": t.opening_round, "hashes": hashed["hashes"],
                                                   "beacon": f"{base}/beacon", "chainHash": t.chain_hash,
                                                   "uploadUrl": f"{base}/api/tenders/{t.id}/bid/uploads"})
    print(f"seal + upload (worker): {uploaded['sealSeconds']:.2f} s = {mbps(size, uploaded['sealSeconds']):.1f} MiB/s, "
          f"of which {uploaded['uploadWaitSeconds']:.2f} s waiting for the upload", flush=True)
    await page.fill("[name=total_price]", "1,268,000.00")
    await page.fill("[name=delivery_days]", "30")
    with RssSampler() as page_rss:
        began = await page.evaluate("performance.now()")
        t0 = time.perf_counter()
        await page.click("#submit-bid")
        await page.wait_for_selector("#bid-form[data-phase=done], #bid-form[data-phase=error]")
        page_seconds = time.perf_counter() - t0
        ended = await page.evaluate("performance.now()")
    phase = await page.get_attribute("#bid-form", "data-phase")
    if phase != "done":
        raise SystemExit(f"the bid page failed: {await page.text_content('#bid-message')}")
    long_tasks = await page.evaluate(
        "([a, b]) => window.__longTasks.filter((e) => e.start + e.duration > a && e.start < b)", [began, ended]
    )
    stored = int((await page.text_content("#r-size")).split("(")[1].split()[0])
    sha = (await page.text_content("#r-sha256")).strip()

    aead_mbps = mbps(aead["bytes"], aead["aeadSeconds"])
    hash_mbps = mbps(size, hashed["elapsed"])
    seal_mbps = mbps(size, sealed["sealSeconds"])
    page_mbps = mbps(size, page_seconds)
    ratio = seal_mbps / aead_mbps
    over = [e for e in long_tasks if e["duration"] > LONG_TASK_LIMIT_MS]
    longest = max((e["duration"] for e in long_tasks), default=0.0)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (a shared machine slows every figure)")
    print(f"raw AEAD (ChaCha20-Poly1305, worker): {size_mb} MiB in {aead['aeadSeconds']:.2f} s = {aead_mbps:.1f} MiB/s")
    print(f"hash (SHA-256 of the document, worker): {hashed['elapsed']:.2f} s = {hash_mbps:.1f} MiB/s")
    print(f"seal (streamed seal pass, worker, no upload): {sealed['sealSeconds']:.2f} s = {seal_mbps:.1f} MiB/s; "
          f"{ratio:.0%} of raw AEAD (limit {RATIO_LIMIT:.0%})")
    print(f"bid page (click to receipt: seal and upload in parts, document hashed when picked): {page_seconds:.2f} s = "
          f"{page_mbps:.1f} MiB/s; {page_mbps / aead_mbps:.0%} of raw AEAD; stored {stored} bytes")
    print(f"long tasks on the page's main thread while sealing: {len(long_tasks)} over 50 ms, {len(over)} over "
          f"{LONG_TASK_LIMIT_MS} ms, longest {longest:.0f} ms (limit: none over {LONG_TASK_LIMIT_MS} ms)")
    print(f"memory (RSS from /proc): tab renderer idle {idle_rss['renderer'] / MIB:.0f} MB, peak during raw AEAD "
          f"{aead_rss.peak['renderer'] / MIB:.0f} MB, while sealing without upload {seal_rss.peak['renderer'] / MIB:.0f} MB, while sealing and uploading {max(upload_rss.peak['renderer'], page_rss.peak['renderer']) / MIB:.0f} MB "
          f"(limit {TAB_RSS_LIMIT_MB} MB); the browser process peak {page_rss.peak['browser'] / MIB:.0f} MB, "
          f"all Chromium processes together {page_rss.peak['total'] / MIB:.0f} MB (shared pages counted in each)")
    return sha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="document size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of raw AEAD and of the seal pass; the best counts")
    args = parser.parse_args()
    asyncio.run(run(args.mb, args.repeat))


if __name__ == "__main__":
    main()
