// 评审决定: the committee's decisions on bids (web/pages/decisions.py). Everyone in the evaluation
// reads each bid's corrections, price queries and validity; the group leader records an arithmetic
// correction (87号令 art. 59), asks a bidder to justify an abnormally low price within a time and
// decides on the justification (art. 60), and finds a bid invalid. Each form checks its fields in
// the page, one line under each field, before anything is sent; the server checks them again.
"use strict";

(function () {
  const pb = window.pb;
  const data = pb.pageData();
  const T = data.tender_id;
  const L = data.labels;
  const $ = (id) => document.getElementById(id);
  let view = null;
  const say = (text, kind) => pb.message($("dec-message"), text, kind);
  const post = (path, body) => pb.api("POST", `/api/evaluation/${T}${path}`, body);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
  const bidOf = (id) => view.bids.find((b) => b.bid === id);
  const label = (set, code) => (L[set] || {})[code] || code;

  /** Why the platform flags a bid (异常低价), in words: its price against the other valid bids' mean. */
  function flagText(b) {
    const others = view.bids.filter((o) => !o.invalid && o.bid !== b.bid).map((o) => BigInt(o.price_fen));
    const [n, d = "1"] = String(view.config.low_bid_fraction || "4/5").split("/");
    const percent = (Number(n) * 100 / Number(d)).toFixed(0);
    if (!others.length) return t("报价明显偏低");
    const mean = others.reduce((a, x) => a + x, 0n) / BigInt(others.length);
    return t("报价 {price} 元低于其他有效投标平均报价 {mean} 元的 {percent}%", { price: pb.yuan(b.price_fen), mean: pb.yuan(mean), percent });
  }

  function correctionCell(b) {
    const c = b.correction;
    if (!c) return [el("span", "—")];
    return [el("div", t("修正后：{amount}", { amount: pb.amount(c.corrected_fen) })),
      el("div", `${label("correction_rule", c.rule)} · ${pb.pair(t("修正理由"), c.explanation)}`, "tp-muted"),
      el("strong", label("correction_status", c.status), `status-${c.status}`)];
  }

  function lowPriceCell(b) {
    const q = b.low_price;
    const flagged = b.bid in (view.abnormally_low || {});
    if (!q) return [el("span", flagged ? `${pb.pair(t("提示"), flagText(b))}` : "—")];
    const out = [el("strong", label("low_price_status", q.status), `status-${q.status}`),
      el("div", t("说明截止：{when}", { when: pb.whenUs(q.due_us) }), "tp-muted")];
    const j = q.justification;
    if (j) {
      out.push(el("div", `${pb.pair(j.in_booth ? t("评标舱内说明") : t("书面说明"), j.text)}`, "justification-text"));
      if (j.document_name) {
        const a = el("a", j.document_name, "justification-doc");
        a.href = `/evaluation/${T}/bids/${encodeURIComponent(b.bid)}/justification`;
        a.target = "_blank";
        a.rel = "noopener";
        out.push(el("div", pb.pair(t("证明材料"), "")), a);
      }
    }
    if (q.decision) out.push(el("div", `${pb.pair(t("决定理由"), q.decision)}`, "tp-muted"));
    return out;
  }

  function validityCell(b) {
    if (!b.invalid) return [el("span", t("有效"))];
    const ground = b.invalid_ground ? label("invalid_ground", b.invalid_ground) : "";
    return [el("strong", t("无效"), "status-invalid"), el("div", ground && b.invalid_reason ? `${pb.pair(ground, b.invalid_reason)}` : b.invalid)];
  }

  function renderTable() {
    $("dec-bids").tBodies[0].replaceChildren(...view.bids.map((b) => {
      const tr = el("tr");
      tr.dataset.bid = b.bid;
      const cells = [[el("strong", b.bidder_name)], [el("div", `${pb.yuan(pb.openedFen(b))} ${t("元")}`, "tp-nowrap"),
        el("div", pb.capital(pb.openedFen(b)), "tp-words")], correctionCell(b), lowPriceCell(b), validityCell(b)];
      const heads = [t("投标人"), t("开标报价"), t("算术修正"), t("异常低价"), t("有效性")];
      cells.forEach((items, i) => { const td = el("td"); td.dataset.label = heads[i]; td.append(...items); tr.append(td); });
      return tr;
    }));
  }

  const options = (sel, bids) => {
    const keep = sel.value;
    sel.replaceChildren(el("option", t("请选择")), ...bids.map((b) => { const o = el("option", b.bidder_name); o.value = b.bid; return o; }));
    sel.options[0].value = "";
    if (bids.some((b) => b.bid === keep)) sel.value = keep;
  };

  function render() {
    $("dec-state").dataset.state = view.state;
    $("dec-state").textContent = label("session_state", view.state);
    renderTable();
    const leader = !!(view.me && view.me.leader) && ["scoring", "review"].includes(view.state);
    $("leader-forms").hidden = !leader;
    $("not-leader").hidden = leader || !view.me || !["scoring", "review"].includes(view.state);
    const valid = view.bids.filter((b) => !b.invalid);
    options($("cor-bid"), valid.filter((b) => !(b.correction && b.correction.status === "pending")));
    const flagged = valid.filter((b) => b.bid in (view.abnormally_low || {}) && !b.low_price);
    options($("q-bid"), flagged);
    $("query-none").hidden = flagged.length > 0;
    const deciding = valid.filter((b) => b.low_price && ["open", "justified"].includes(b.low_price.status));
    options($("d-bid"), deciding);
    $("decide-none").hidden = deciding.length > 0;
    options($("i-bid"), valid);
    showOriginal();
    showFlag();
    showJustification();
  }

  // -- 算术修正 ----------------------------------------------------------------------------------------
  const rules = $("cor-rule");
  Object.entries(L.correction_rule || {}).forEach(([code, text]) => { const o = el("option", text); o.value = code; rules.append(o); });
  const ITEM = /^\s*([\d,，]+(?:\.\d{1,2})?)\s*[×xX*＊]\s*(\d+)\s*$/;
  /** The correction form read: {body, errors, corrected} (corrected fen as BigInt, or null). */
  function readCorrection() {
    const errors = {};
    const bid = $("cor-bid").value, rule = rules.value, b = bid ? bidOf(bid) : null;
    if (!b) errors.bid = t("请选择投标人");
    if (!rule) errors.rule = t("请选择修正依据");
    const body = { bid, rule, explanation: $("cor-explanation").value.trim() };
    let corrected = b && ["schedule", "unit_decimal"].includes(rule) ? BigInt(b.price_fen) : null;
    if (rule === "words") {
      const words = $("cor-words").value.trim();
      corrected = pb.capitalToFen(words);
      if (!words) errors.words = t("请填写投标文件中的大写金额");
      else if (corrected === null) errors.words = t("“{text}”不是大写金额，例如 壹拾万零伍仟元整", { text: words });
      body.words = words;
    } else if (rule === "unit_sum") {
      const lines = $("cor-items").value.split("\n").map((s) => s.trim()).filter(Boolean);
      const items = [];
      corrected = 0n;
      for (const [i, line] of lines.entries()) {
        const m = ITEM.exec(line);
        if (!m || !(Number(m[2]) > 0)) { errors.items = t("第 {n} 行须写成“单价 × 数量”，如 5,000.00 × 20", { n: i + 1 }); break; }
        const fen = pb.yuanToFen(m[1]);
        if (fen <= 0) { errors.items = t("第 {n} 行的单价须大于零", { n: i + 1 }); break; }
        items.push({ unit_price: pb.fenToYuan(fen).replace(/,/g, ""), quantity: Number(m[2]) });
        corrected += BigInt(fen) * BigInt(m[2]);
      }
      if (!lines.length) errors.items = t("请逐行填写分项单价与数量");
      if (errors.items) corrected = null;
      body.items = items;
    }
    if (!body.explanation) errors.explanation = t("请填写修正理由");
    return { body, errors, corrected };
  }
  function showOriginal() {
    const b = bidOf($("cor-bid").value);
    $("cor-original").textContent = b ? t("开标记录报价：{amount}", { amount: pb.amount(pb.openedFen(b)) }) : "";
  }
  function preview() {
    const rule = rules.value;
    $("cor-words-box").hidden = rule !== "words";
    $("cor-items-box").hidden = rule !== "unit_sum";
    const { corrected } = readCorrection();
    $("cor-preview").textContent = corrected !== null && corrected > 0n ? t("修正后报价：{amount}", { amount: pb.amount(corrected) }) : "";
  }
  ["cor-bid", "cor-rule", "cor-words", "cor-items"].forEach((id) => $(id).addEventListener("input", () => { showOriginal(); preview(); }));
  $("correction-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const { body, errors } = readCorrection();
    send($("correction-form"), errors, () => post("/price-corrections", body), t("已提交算术修正，等待投标人确认"));
  });

  // -- 异常低价 -------------------------------------------------------------------------------------------
  function showFlag() {
    const b = bidOf($("q-bid").value);
    $("q-flag").textContent = b ? `${pb.pair(t("提示"), flagText(b))}` : "";
    const minutes = Number($("q-minutes").value);
    $("q-due").textContent = Number.isInteger(minutes) && minutes >= 1 && minutes <= data.max_minutes
      ? t("截止时间约为 {when}（以提交时服务器时间为准）", { when: pb.whenUs((Date.now() + minutes * 60000) * 1000) }) : "";
  }
  ["q-bid", "q-minutes"].forEach((id) => $(id).addEventListener("input", showFlag));
  $("query-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const errors = {};
    const bid = $("q-bid").value, text = $("q-minutes").value.trim();
    if (!bid) errors.bid = t("请选择投标人");
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > data.max_minutes) {
      errors.minutes = t("说明时限须为 1–{max} 的整数分钟", { max: data.max_minutes });
    }
    send($("query-form"), errors, () => post("/low-price-queries", { bid, minutes: Number(text) }), t("已要求投标人书面说明"));
  });

  function showJustification() {
    const b = bidOf($("d-bid").value);
    const box = $("d-justification");
    const sig = b ? JSON.stringify(b.low_price) : "";
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    box.replaceChildren(...(b ? lowPriceCell(b) : []));
    $("booth-box").hidden = !(b && b.low_price.status === "open");
  }
  $("booth-submit").addEventListener("click", () => {
    const form = $("decide-form"), b = bidOf($("d-bid").value), text = $("booth-text").value.trim();
    const errors = {};
    if (!b) errors.bid = t("请选择投标人");
    if (!text) errors.booth = t("请填写投标人在评标舱内所作的说明");
    send(form, errors, () => post("/low-price-justifications", { bid: b.bid, text }), t("已记录评标舱内的说明"));
  });
  $("d-bid").addEventListener("input", showJustification);
  $("decide-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = $("decide-form"), errors = {};
    const b = bidOf($("d-bid").value);
    const picked = form.querySelector("input[name=accepted]:checked");
    const reason = $("d-reason").value.trim();
    if (!b) errors.bid = t("请选择投标人");
    if (!picked) errors.accepted = t("请选择接受或不接受说明");
    else if (b && b.low_price.status === "open" && picked.value === "yes") errors.accepted = t("投标人尚未提交说明，不能接受");
    if (!reason) errors.reason = t("请填写决定理由");
    const body = { bid: b ? b.bid : "", accepted: !!picked && picked.value === "yes", reason };
    send(form, errors, () => post("/low-price-decisions", body), t("已记录评标委员会的决定"));
  });

  // -- 投标无效 --------------------------------------------------------------------------------------------
  $("invalid-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const errors = {};
    const body = { bid: $("i-bid").value, ground: $("i-ground").value, reason: $("i-reason").value.trim() };
    if (!body.bid) errors.bid = t("请选择投标人");
    if (!body.ground) errors.ground = t("请选择无效理由");
    if (!body.reason) errors.reason = t("请填写具体说明");
    send($("invalid-form"), errors, () => post("/invalid-bids", body), t("已认定投标无效"));
  });

  /** Send a checked form: its errors under its fields, or the call, then the page anew. */
  async function send(form, errors, call, done) {
    const n = pb.fieldErrors(form, errors);
    if (n) { say(t("请更正标出的 {n} 处", { n }), "error"); return; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      view = await call();
      form.reset();
      if (form.id === "query-form") $("q-minutes").value = "30";
      preview();
      say(done, "ok");
      render();
    } catch (e) {
      say(e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function refresh() {
    try {
      view = await pb.api("GET", `/api/evaluation/${T}`);
      render();
    } catch (e) {
      say(e.message, "error");
    }
  }
  refresh();
  setInterval(refresh, 3000);
})();
