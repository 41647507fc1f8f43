// 评审询问: a bidder's own bid in the evaluation (web/pages/decisions.py). It confirms or refuses an
// arithmetic correction of its price (87号令 art. 59), and before the deadline sends the written
// justification of an abnormally low price (art. 60) with a supporting document (PDF etc.).
// A card is rebuilt only when its bid changes, so text being typed survives the refresh.
"use strict";

(function () {
  const pb = window.pb;
  const data = pb.pageData();
  const T = data.tender_id;
  const L = data.labels;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
  const label = (set, code) => (L[set] || {})[code] || code;
  const say = (text, kind) => pb.message($("mine-message"), text, kind);
  let mine = null, offsetUs = 0;

  async function justify(form, b) {
    const errors = {};
    const text = form.text.value.trim();
    const file = form.document.files[0];
    if (!text) errors.text = t("请填写书面说明");
    else if (text.length > data.max_text) errors.text = t("书面说明不能超过 {n} 字", { n: data.max_text });
    if (file && file.size > data.max_document_mib * 1048576) errors.document = t("证明材料不能超过 {n} MiB", { n: data.max_document_mib });
    if (file && !file.size) errors.document = t("证明材料是空文件");
    const n = pb.fieldErrors(form, errors);
    if (n) { say(t("请更正标出的 {n} 处", { n }), "error"); return; }
    const body = new FormData();
    body.append("bid", b.bid);
    body.append("text", text);
    if (file) body.append("document", file, file.name);
    await call(form, async () => {
      const response = await fetch(`/api/evaluation/${T}/low-price-justifications`, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRF-Token": pb.csrf() },
      });
      const out = await response.json().catch(() => null);
      if (!response.ok) throw new Error((out && out.error) || `HTTP ${response.status}`);
      return out;
    }, t("已提交书面说明"));
  }

  async function call(form, fn, done) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((x) => { x.disabled = true; });
    try {
      take(await fn());
      say(done, "ok");
    } catch (e) {
      say(e.message, "error");
    } finally {
      buttons.forEach((x) => { x.disabled = false; });
    }
  }

  function correctionCard(b) {
    const c = b.correction;
    const box = el("section", "", "card correction");
    box.append(el("h3", t("算术修正")));
    box.append(el("p", t("开标记录报价：{amount}", { amount: pb.amount(c.original_fen) })));
    box.append(el("p", t("修正后报价：{amount}", { amount: pb.amount(c.corrected_fen) }), "corrected"));
    box.append(el("p", `${pb.pair(t("修正依据"), label("correction_rule", c.rule))}`));
    box.append(el("p", `${pb.pair(t("修正理由"), c.explanation)}`));
    box.append(el("p", label("correction_status", c.status), `status-${c.status}`));
    if (c.status !== "pending") return box;
    const form = el("form", "", "tp-form");
    form.noValidate = true;
    const yes = el("button", t("确认修正后的报价"), "button confirm-correction");
    yes.type = "button";
    const no = el("button", t("不确认"), "refuse-correction");
    no.type = "button";
    const sure = el("p", "", "warn");
    sure.hidden = true;
    const really = el("button", t("确定不确认（投标将无效）"), "refuse-sure");
    really.type = "button";
    sure.append(t("不确认修正后报价的，投标无效（87号令第五十九条）。") + " ", really);
    const answer = (confirm) => call(form, () => pb.api("POST", `/api/evaluation/${T}/price-corrections/answer`, { bid: b.bid, confirm }),
      confirm ? t("已确认修正后的报价") : t("已答复不确认"));
    yes.onclick = () => answer(true);
    no.onclick = () => { sure.hidden = false; };
    really.onclick = () => answer(false);
    form.append(yes, " ", no, sure);
    box.append(form);
    return box;
  }

  function queryCard(b) {
    const q = b.low_price;
    const box = el("section", "", "card low-price");
    box.append(el("h3", t("异常低价书面说明")));
    box.append(el("p", t("评标委员会认为您的报价明显低于其他通过符合性审查投标人的报价，可能影响产品质量或者不能诚信履约，请在规定时间内提供书面说明，必要时提交相关证明材料（87号令第六十条）。")));
    box.append(el("p", t("说明截止：{when}", { when: pb.whenUs(q.due_us) }), "due"));
    box.append(el("p", label("low_price_status", q.status), `status-${q.status}`));
    const j = q.justification;
    if (j) {
      box.append(el("p", `${pb.pair(j.in_booth ? t("评标舱内说明") : t("书面说明"), j.text)}`));
      if (j.document_name) {
        const a = el("a", j.document_name, "justification-doc");
        a.href = `/evaluation/${T}/bids/${encodeURIComponent(b.bid)}/justification?download=1`;
        const p = el("p", pb.pair(t("证明材料"), ""));
        p.append(a, ` ${pb.size(j.document_size)}`);
        box.append(p);
      }
    }
    if (q.decision) box.append(el("p", `${pb.pair(t("决定理由"), q.decision)}`));
    if (q.status !== "open") return box;
    const form = el("form", "", "tp-form justify-form");
    form.noValidate = true;
    const textLabel = el("label", t("书面说明"));
    const text = el("textarea");
    Object.assign(text, { name: "text", rows: 5, maxLength: data.max_text });
    textLabel.append(text);
    const fileLabel = el("label", t("证明材料（PDF、图片等，可选）"));
    const file = el("input");
    Object.assign(file, { type: "file", name: "document" });
    fileLabel.append(file);
    const send = el("button", t("提交说明"), "button");
    send.type = "submit";
    const err = (name) => { const s = el("span", "", "tp-field-error"); s.dataset.for = name; return s; };
    const p = el("p");
    p.append(send);
    form.append(textLabel, err("text"), fileLabel, err("document"), p);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); justify(form, b); });
    box.append(form);
    return box;
  }

  function bidCard(b) {
    const box = el("section", "", "card my-bid");
    box.dataset.bid = b.bid;
    box.append(el("h2", t("{name}的投标", { name: b.bidder_name })));
    box.append(el("p", t("开标记录报价：{amount}", { amount: pb.amount(pb.openedFen(b)) })));
    if (b.invalid) {
      const ground = b.invalid_ground ? label("invalid_ground", b.invalid_ground) : "";
      box.append(el("p", pb.pair(t("投标无效"), ground && b.invalid_reason ? pb.pair(ground, b.invalid_reason) : b.invalid), "warn invalid"));
    }
    if (b.correction) box.append(correctionCard(b));
    if (b.low_price) box.append(queryCard(b));
    if (!b.correction && !b.low_price && !b.invalid) box.append(el("p", t("评标委员会暂无需要您答复的事项。"), "tp-muted"));
    return box;
  }

  function take(body) {
    mine = body;
    if (body.now_us) offsetUs = body.now_us - Date.now() * 1000;
    $("mine-state").dataset.state = body.state;
    $("mine-state").textContent = label("session_state", body.state);
    const root = $("mine-bids");
    body.bids.forEach((b) => {
      const sig = JSON.stringify(b);
      let card = root.querySelector(`section.my-bid[data-bid="${CSS.escape(b.bid)}"]`);
      if (card && card.dataset.sig === sig) return;
      const fresh = bidCard(b);
      fresh.dataset.sig = sig;
      if (card) card.replaceWith(fresh);
      else root.append(fresh);
      card = fresh;
    });
    remaining();
  }

  /** The time left before each open query's deadline, on the server's clock. */
  function remaining() {
    if (!mine) return;
    mine.bids.forEach((b) => {
      const q = b.low_price;
      const due = document.querySelector(`section.my-bid[data-bid="${CSS.escape(b.bid)}"] .due`);
      if (!q || !due || q.status !== "open") return;
      const left = (q.due_us - (Date.now() * 1000 + offsetUs)) / 1e6;
      due.textContent = t("说明截止：{when}", { when: pb.whenUs(q.due_us) }) + " · "
        + (left > 0 ? t("剩余 {left}", { left: pb.duration(left) }) : t("已截止"));
    });
  }

  async function refresh() {
    try {
      take(await pb.api("GET", `/api/evaluation/${T}/my-bid`));
    } catch (e) {
      say(e.message, "error");
    }
  }
  refresh();
  setInterval(refresh, 3000);
  setInterval(remaining, 1000);
})();
