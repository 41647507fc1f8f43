// The bid page: fill the opening-record fields, pick documents, then in this browser seal the bid
// to the tender's round on its pinned chain (fetched from the platform's beacon). The sealing
// worker (/static/vendor/pingbiao-seal-worker.js, started through window.pingbiao.sealInWorker)
// hashes the documents — already while the form is being filled in — then seals the bid part by
// part and uploads each part as it is sealed, so only ciphertext leaves the browser and this page
// stays responsive; it shows progress, speed and time left and can cancel (nothing is kept on the
// server). Then the receipt is shown and verified here (receipt.js).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const data = pb.pageData();
  const tender = data.tender;
  let lastReceipt = null;
  const WORKER = "/static/vendor/pingbiao-seal-worker.js";
  let prehash = null; // {files, done, onProgress} — the documents hashed in a worker when picked
  let job = null; // the running seal job ({cancel})

  function setStep(name, state) {
    const li = document.querySelector(`#steps li[data-step="${name}"]`);
    if (li) li.dataset.state = state;
  }

  function resetSteps() {
    for (const li of document.querySelectorAll("#steps li")) delete li.dataset.state;
    showProgress(null);
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s >= 60 ? t("{m} 分 {s} 秒", { m: Math.floor(s / 60), s: s % 60 }) : t("{s} 秒", { s });
  }

  /** The progress line of one phase (hash or seal): bar, percentage, speed, time left. */
  function showProgress(p) {
    const box = $("seal-progress-box");
    if (!box) return;
    if (!p) {
      box.hidden = true;
      $("seal-progress").value = 0;
      for (const id of ["seal-phase", "seal-pct", "seal-speed", "seal-eta"]) $(id).textContent = "";
      return;
    }
    box.hidden = false;
    box.dataset.phase = p.phase;
    const fraction = p.total > 0 ? p.done / p.total : 1;
    $("seal-phase").textContent = p.phase === "hash" ? t("校验文件") : t("加密并上传");
    $("seal-progress").value = Math.round(fraction * 1000);
    $("seal-pct").textContent = `${Math.floor(fraction * 100)}%`;
    const speed = p.elapsed > 0 ? p.done / p.elapsed : 0;
    $("seal-speed").textContent = speed > 0 ? t("{speed}/秒", { speed: pb.size(Math.round(speed)) }) : "";
    $("seal-eta").textContent = speed > 0 && p.done < p.total ? t("剩余 {time}", { time: duration((p.total - p.done) / speed) }) : "";
  }

  /** Hash the picked documents in a worker while the bidder fills in the form. */
  function startPrehash(files) {
    if (prehash) prehash.job.cancel();
    prehash = null;
    if (!files.length) return;
    const entry = { files, onProgress: () => {} };
    entry.job = pingbiao.hashInWorker(WORKER, files, { onProgress: (p) => entry.onProgress(p) });
    entry.done = entry.job.done.then((r) => r.hashes, () => null); // a failure: hash again while sealing
    prehash = entry;
  }

  function sameFiles(a, b) {
    return a.length === b.length && a.every((f, i) => f === b[i]);
  }

  const MONEY = /^(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$/;

  /** "1,268,000.5" → 126800050n (fen, exact). */
  function fen(raw) {
    const [whole, cents = ""] = raw.replace(/,/g, "").split(".");
    return BigInt(whole) * 100n + BigInt((cents + "00").slice(0, 2));
  }

  function yuanText(f) {
    const whole = (f / 100n).toString().replace(/\B(?=(\d{3})+$)/g, ",");
    return `${whole}.${(f % 100n).toString().padStart(2, "0")}`;
  }

  // A multi-lot tender (分包): the lots chosen, each with its price (checked like the server does at the opening).
  function readLots(form) {
    const lots = [];
    for (const lot of data.lots || []) {
      if (!form.elements[`lot-${lot.lot}`].checked) continue;
      const raw = (form.elements[`lot-price-${lot.lot}`].value || "").trim();
      const name = t("第{n}包", { n: lot.lot });
      if (!MONEY.test(raw)) throw new Error(t("{lot}报价须为以元为单位、最多两位小数的金额", { lot: name }));
      const amount = fen(raw);
      if (amount <= 0n) throw new Error(t("{lot}报价须大于零", { lot: name }));
      if (lot.budget_fen > 0 && amount > BigInt(lot.budget_fen)) {
        throw new Error(t("{lot}报价 {price} 元超过该包预算 {budget} 元", { lot: name, price: yuanText(amount), budget: yuanText(BigInt(lot.budget_fen)) }));
      }
      lots.push({ lot: lot.lot, price: raw });
    }
    if ((data.lots || []).length && !lots.length) throw new Error(t("请至少选择一个分包并填写报价"));
    return lots;
  }

  function readRecord(form) {
    const record = {};
    const lots = readLots(form);
    if (lots.length) record.lots = lots;
    for (const f of data.bid_fields || tender.record_fields) {
      const input = form.elements[f.key];
      const raw = (input.value || "").trim();
      const label = fieldLabel(f);
      if (raw === "") {
        if (f.required) throw new Error(t("请填写 {label}", { label }));
        continue;
      }
      if (f.type === "money") {
        if (!MONEY.test(raw)) throw new Error(t("{label}：金额（元，最多两位小数）", { label }));
        record[f.key] = raw;
      } else if (f.type === "integer" || f.type === "days") {
        if (!/^-?\d+$/.test(raw) || (f.type === "days" && raw.startsWith("-"))) throw new Error(t("{label}：整数", { label }));
        record[f.key] = Number(raw);
      } else {
        if ([...raw].length > 500) throw new Error(t("{label}：最多 500 字", { label }));
        record[f.key] = input.value;
      }
    }
    return record;
  }

  async function showReceipt(result) {
    lastReceipt = result;
    const { bid, receipt } = result;
    $("receipt").hidden = false;
    $("r-status").textContent = { submitted: t("已提交"), withdrawn: t("已撤回"), void: t("已作废（须重新提交）") }[bid.status] || bid.status;
    $("r-sha256").textContent = bid.sha256 || "—";
    $("r-size").textContent = bid.size ? `${pb.size(bid.size)} (${bid.size} bytes)` : "—";
    const at = Date.parse(receipt.entry.time) / 1000;
    $("r-time").textContent = Number.isFinite(at) ? `${pb.localTime(at)} ${pb.zoneName(at)}` : String(receipt.entry.time);
    $("r-index").textContent = receipt.entry.index;
    $("r-kind").textContent = receipt.entry.kind;
    $("r-tree").textContent = receipt.tree_size;
    $("r-checkpoint").textContent = receipt.checkpoint;
    const out = $("r-verified");
    out.textContent = t("验证中…");
    delete out.dataset.kind;
    try {
      const vkey = await (await fetch("/api/audit/vkey")).text();
      const result = await pbReceipt.verify(receipt, vkey, bid.status === "submitted" ? bid.sha256 : null);
      out.textContent = `✔ ${result.message}`;
      out.dataset.kind = "ok";
      out.dataset.verified = "true";
    } catch (e) {
      out.textContent = `✘ ${t("验证失败")}: ${e.message}`;
      out.dataset.kind = "error";
      out.dataset.verified = "false";
    }
    const withdraw = $("withdraw");
    if (withdraw) withdraw.hidden = bid.status !== "submitted";
    const submit = $("submit-bid");
    if (submit) submit.textContent = bid.status === "submitted" ? t("加密并替换") : t("加密并投标");
    const title = $("bid-form-title");
    if (title) title.textContent = bid.status === "submitted" ? t("替换投标") : t("填写开标记录");
  }

  async function loadMine() {
    if (!tender.my_bid) return;
    try {
      await showReceipt(await pb.api("GET", data.upload_url));
    } catch (e) {
      pb.message($("receipt-status"), e.message, "error");
    }
  }

  function closeForm() {
    const form = $("bid-form");
    if (!form) return;
    form.hidden = true;
    const p = document.createElement("p");
    p.className = "warn";
    p.id = "bid-closed";
    p.textContent = t("投标已截止") + "：" + t("截止时间已过，不能再投标、替换或撤回。");
    form.after(p);
  }

  function init() {
    $("r-download").addEventListener("click", (event) => {
      event.preventDefault();
      if (!lastReceipt) return;
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([JSON.stringify(lastReceipt, null, 2)], { type: "application/json" }));
      a.download = `receipt-${tender.id}-${lastReceipt.receipt.entry.index}.json`;
      a.click();
    });
    loadMine();
    const form = $("bid-form");
    if (!form) return;
    const message = $("bid-message");
    const docs = $("documents");
    for (const box of form.querySelectorAll("input[data-lot]")) {
      box.addEventListener("change", () => {
        const price = form.elements[`lot-price-${box.dataset.lot}`];
        price.disabled = !box.checked;
        price.required = box.checked;
      });
    }
    docs.addEventListener("change", () => {
      const files = [...docs.files];
      startPrehash(files);
      const total = files.reduce((n, f) => n + f.size, 0);
      $("doc-summary").textContent = files.length
        ? t("{n} 个文件，共 {size}：{names}", { n: files.length, size: pb.size(total), names: files.map((f) => f.name).join(", ") })
        : t("未选择文件");
    });
    const deadline = tender.opening_unix * 1000;
    const timer = setInterval(() => {
      if (Date.now() >= deadline) {
        clearInterval(timer);
        closeForm();
      }
    }, 1000);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("submit-bid");
      button.disabled = true;
      resetSteps();
      delete form.dataset.cancel;
      form.dataset.phase = "building";
      try {
        const record = readRecord(form);
        const files = [...docs.files];
        if (!files.some((f) => f.size > 0)) throw new Error(t("请至少选择一个非空的投标文件"));
        const total = files.reduce((n, f) => n + f.size, 0);
        if (total > tender.max_bid_bytes) throw new Error(t("文件超过上限 {limit}", { limit: pb.size(tender.max_bid_bytes) }));
        const chain = await pingbiao.chainFromBeacon(data.beacon_url, tender.chain);
        pingbiao.checkBid(record, files);
        form.dataset.phase = "hashing";
        setStep("hash", "active");
        pb.message(message, t("校验文件…"));
        $("cancel-seal").hidden = false;
        let hashes = null;
        if (prehash && sameFiles(prehash.files, files)) {
          const wait = prehash;
          wait.onProgress = showProgress;
          const cancelled = new Promise((resolve) => { job = { cancel: async () => { wait.job.cancel(); resolve("cancelled"); } }; });
          hashes = await Promise.race([wait.done, cancelled]);
          if (hashes === "cancelled") throw new pingbiao.SealCancelled();
        }
        const started = performance.now();
        let sealing = false;
        job = pingbiao.sealInWorker(WORKER, {
          chain, round: tender.opening_round, record, files, hashes,
          uploadUrl: data.upload_url, csrf: pb.csrf(), maxBytes: tender.max_bid_bytes,
          onProgress: (p) => {
            if (p.phase === "seal" && !sealing) {
              sealing = true;
              setStep("hash", "done");
              setStep("seal", "active");
              form.dataset.phase = "sealing";
              pb.message(message, t("加密到轮次 {round}，边加密边上传…", { round: tender.opening_round }));
            }
            showProgress(p);
          },
        });
        let result;
        try {
          result = await job.done;
        } catch (e) {
          if (e.code === "too-large") throw new Error(t("密封后 {size} 超过上限 {limit}", { size: pb.size(e.size), limit: pb.size(tender.max_bid_bytes) }));
          throw e;
        }
        setStep("hash", "done");
        setStep("seal", "done");
        showProgress({ phase: "seal", done: result.plainSize, total: result.plainSize, elapsed: (performance.now() - started) / 1000 });
        $("cancel-seal").hidden = true;
        result = result.receipt;
        setStep("receipt", "active");
        await showReceipt(result);
        setStep("receipt", "done");
        form.dataset.phase = "done";
        pb.message(message, result.receipt.entry.kind === "bid.replaced" ? t("投标已替换") : t("投标已提交"), "ok");
        form.reset();
        prehash = null;
        for (const price of form.querySelectorAll("input[data-lot-price]")) price.disabled = true;
        $("doc-summary").textContent = t("未选择文件");
      } catch (e) {
        for (const li of document.querySelectorAll('#steps li[data-state="active"]')) li.dataset.state = "failed";
        if (e.name === "SealCancelled") {
          form.dataset.phase = "cancelled";
          showProgress(null);
          pb.message(message, t("已取消：这次投标没有提交，服务器上不留任何部分。"));
        } else {
          form.dataset.phase = "error";
          pb.message(message, `${e.name === "ChainError" ? t("信标链校验失败") + " " : ""}${e.message}`, "error");
        }
      } finally {
        job = null;
        $("cancel-seal").hidden = true;
        button.disabled = false;
      }
    });

    $("cancel-seal").addEventListener("click", async () => {
      const running = job;
      if (!running) return;
      $("cancel-seal").hidden = true;
      form.dataset.cancel = "pending";
      const answer = await running.cancel();
      if (answer && answer.status === 409) await loadMine(); // the last part was already in: show what was stored
      form.dataset.cancel = "done"; // the server has answered: nothing of the upload is kept
    });

    $("withdraw").addEventListener("click", async () => {
      if (!confirm(t("撤回投标？截止前可再次提交。"))) return;
      try {
        const result = await pb.api("DELETE", data.upload_url);
        await showReceipt(result);
        pb.message(message, t("投标已撤回"), "ok");
      } catch (e) {
        pb.message(message, e.message, "error");
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
