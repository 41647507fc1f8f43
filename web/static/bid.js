// The bid page: fill the opening-record fields, pick documents, then in this browser build the
// bid container and seal it (window.pingbiao, /static/vendor/pingbiao-seal.js) to the tender's
// round on its pinned chain, fetched from the platform's beacon; PUT only the ciphertext (upload
// progress from XMLHttpRequest), then show the receipt and verify it here (receipt.js).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const data = pb.pageData();
  const tender = data.tender;
  let lastReceipt = null;

  function setStep(name, state) {
    const li = document.querySelector(`#steps li[data-step="${name}"]`);
    if (li) li.dataset.state = state;
  }

  function resetSteps() {
    for (const li of document.querySelectorAll("#steps li")) delete li.dataset.state;
    $("upload-progress").value = 0;
    $("upload-pct").textContent = "";
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

  function upload(bytes, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", data.upload_url);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", pb.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new Error((body && body.error) || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new Error(t("上传失败：网络错误")));
      xhr.send(bytes);
    });
  }

  async function showReceipt(result) {
    lastReceipt = result;
    const { bid, receipt } = result;
    $("receipt").hidden = false;
    $("r-status").textContent = { submitted: t("已提交"), withdrawn: t("已撤回"), void: t("已作废（须重新提交）") }[bid.status] || bid.status;
    $("r-sha256").textContent = bid.sha256 || "—";
    $("r-size").textContent = bid.size ? `${pb.size(bid.size)} (${bid.size} bytes)` : "—";
    const at = Date.parse(receipt.entry.time) / 1000;
    $("r-time").textContent = Number.isFinite(at) ? `${pb.localTime(at)} (${receipt.entry.time})` : String(receipt.entry.time);
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
      form.dataset.phase = "building";
      try {
        const record = readRecord(form);
        const files = [...docs.files];
        if (!files.some((f) => f.size > 0)) throw new Error(t("请至少选择一个非空的投标文件"));
        const total = files.reduce((n, f) => n + f.size, 0);
        if (total > tender.max_bid_bytes) throw new Error(t("文件超过上限 {limit}", { limit: pb.size(tender.max_bid_bytes) }));
        setStep("build", "active");
        pb.message(message, t("组装投标文件…"));
        let payload = await pingbiao.buildBidPayload(record, files);
        setStep("build", "done");

        form.dataset.phase = "sealing";
        setStep("seal", "active");
        pb.message(message, t("加密到轮次 {round}…", { round: tender.opening_round }));
        const chain = await pingbiao.chainFromBeacon(data.beacon_url, tender.chain);
        const sealed = await pingbiao.sealBytes(chain, tender.opening_round, payload);
        payload.fill(0);
        payload = null;
        setStep("seal", "done");
        if (sealed.length > tender.max_bid_bytes) throw new Error(t("密封后 {size} 超过上限 {limit}", { size: pb.size(sealed.length), limit: pb.size(tender.max_bid_bytes) }));

        form.dataset.phase = "uploading";
        setStep("upload", "active");
        pb.message(message, t("上传密文 {size}…", { size: pb.size(sealed.length) }));
        const result = await upload(sealed, (fraction) => {
          $("upload-progress").value = Math.round(fraction * 100);
          $("upload-pct").textContent = `${Math.round(fraction * 100)}%`;
        });
        $("upload-progress").value = 100;
        $("upload-pct").textContent = "100%";
        setStep("upload", "done");
        setStep("receipt", "active");
        await showReceipt(result);
        setStep("receipt", "done");
        form.dataset.phase = "done";
        pb.message(message, result.receipt.entry.kind === "bid.replaced" ? t("投标已替换") : t("投标已提交"), "ok");
        form.reset();
        for (const price of form.querySelectorAll("input[data-lot-price]")) price.disabled = true;
        $("doc-summary").textContent = t("未选择文件");
      } catch (e) {
        form.dataset.phase = "error";
        for (const li of document.querySelectorAll('#steps li[data-state="active"]')) li.dataset.state = "failed";
        pb.message(message, `${e.name === "ChainError" ? t("信标链校验失败") + " " : ""}${e.message}`, "error");
      } finally {
        button.disabled = false;
      }
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
