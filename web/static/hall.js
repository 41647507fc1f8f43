// The opening hall (开标大厅): one WebSocket (/api/tenders/{id}/hall/ws) gives a snapshot, then
// events (docs/tenders.md). Countdown to the round's time, sign-in (签到), the record row by row
// (唱标, rows deduplicated by seq), 流标, confirmation / objection within the window, the agency's
// answers. The socket reconnects by itself; every reconnect starts again from a snapshot.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const data = pb.pageData();
  const STATES = {
    draft: t("草稿"), published: t("已发布"), opening: t("开标中"), opened: t("已开标"),
    failed: t("流标"), confirming: t("确认中"), confirmed: t("已确认"), evaluating: t("评标中"),
  };
  const hall = {
    offset: 0, // server time - local time, seconds
    tender: null,
    signins: new Map(),
    rows: new Map(),
    fields: [],
    record: null, // {confirm_until, failed_reason, valid, min_bids, final}
    confirmations: new Set(),
    objections: new Map(),
    attendance: null, // [{bidder, name, signed_in, at_us}]: every current bid's bidder, once revealed
    bids: new Map(), // bid_id → {bidder, bidder_name, status: sealed|opening|opened|failed, reason}
    readOut: [], // 唱标 so far, in the order read: [{bid_id, seq, at_us}]
    announcements: [], // the host's 公告: [{text, at_us, index}]
    signing: null, // the record as the signed document: {sha256, signatures: [{name, role, sha256, at_us, index}]}
  };
  const READ_OUT_STATES = ["opened", "failed", "confirming", "confirmed"];
  const BID_STEP = { sealed: 0, opening: 1, opened: 2, failed: 2 };
  const BID_STATUS = { sealed: t("待解密"), opening: t("解密中…"), opened: t("已解密"), failed: t("解密失败") };
  const now = () => Date.now() / 1000 + hall.offset;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) node.append(c);
    return node;
  }

  // "1234567.5" → "1,234,567.5" (the digits as the record has them; no floats)
  const money = (v) => v.replace(/^(-?)(\d+)/, (_, sign, whole) => sign + whole.replace(/\B(?=(\d{3})+$)/g, ","));

  // Why a bid failed, by the stable code the opening records (evaluation/tenders/opening.FAILURES),
  // in plain words; the technical detail kept beside it.
  const FAILURES = {
    tampered: t("密文被篡改"), truncated: t("文件不完整"), wrong_round: t("时间锁轮次不符"),
    wrong_chain: t("加密所用信标链不符"), not_sealed: t("文件格式无法识别"), bad_container: t("投标文件结构无效"),
    no_document: t("投标文件不含任何非空文档"), bad_record: t("投标文件内容不符合要求"), not_recorded: t("开启后无法记录"),
  };
  const failureLabel = (code) => FAILURES[code] || t("无法解密");
  function reasonNode(reason, code) {
    return el("small", { class: "reason", "data-code": code || "" }, el("strong", { class: "reason-label" }, failureLabel(code)), " ",
      el("details", { class: "reason-detail" }, el("summary", {}, t("技术细节")), el("code", {}, reason || "")));
  }
  const clockTime = (unix) => `${pb.localTime(unix)} ${pb.zoneName(unix)}`;

  function nameOf(account) {
    for (const row of hall.rows.values()) if (row.bidder === account) return row.bidder_name;
    const s = hall.signins.get(account);
    return s ? s.name : account;
  }

  function inRecord() {
    for (const row of hall.rows.values()) if (row.bidder === data.account) return true;
    return false;
  }

  const confirmUntil = () => (hall.record && hall.record.confirm_until ? Date.parse(hall.record.confirm_until) / 1000 : null);

  // ---- rendering ------------------------------------------------------------------------

  function renderState() {
    const state = hall.tender.state;
    const badge = $("hall-state");
    badge.dataset.state = state;
    badge.textContent = STATES[state] || state;
    badge.className = `tp-state tp-state-${state}`;
    document.body.dataset.hallState = state;
    const failed = $("failed-notice");
    const reason = hall.record && hall.record.failed_reason;
    if (state === "failed" || reason) {
      failed.hidden = false;
      failed.innerHTML = "";
      failed.append(el("strong", {}, t("流标") + " "), reason || "");
    } else failed.hidden = true;
  }

  function renderSignins() {
    const list = $("signins");
    list.innerHTML = "";
    for (const s of [...hall.signins.values()].filter((s) => s && s.account).sort((a, b) => a.at_us - b.at_us)) {
      list.append(el("li", { "data-account": s.account },
        el("strong", {}, s.name), " ",
        el("small", { class: "tp-muted" }, `${s.role === "agency" ? t("采购人") : t("投标人")} · ${clockTime(s.at_us / 1e6)}`)));
    }
    // With the roster shown (supervisor, and everyone once bids open) it says who has not signed in.
    if (!hall.signins.size && !hall.attendance) list.append(el("li", { class: "tp-muted" }, t("尚无签到")));
    const button = $("signin-button");
    const open = ["published", "opening"].includes(hall.tender.state);
    const signed = hall.signins.has(data.account);
    button.hidden = !(data.may_sign_in && open && !signed);
    if (signed && data.may_sign_in) $("signin-note").textContent = t("您已签到");
    renderAttendance();
  }

  // Every bidder of the tender, signed in or not (the list is revealed at the opening).
  function renderAttendance() {
    const box = $("attendance-box");
    box.hidden = !hall.attendance;
    if (!hall.attendance) return;
    const list = $("attendance");
    list.innerHTML = "";
    let signed = 0;
    for (const a of hall.attendance) {
      const s = hall.signins.get(a.bidder);
      const at = s ? s.at_us : a.at_us;
      const yes = Boolean(s || a.signed_in);
      if (yes) signed++;
      list.append(el("li", { "data-bidder": a.bidder, "data-signed": yes ? "yes" : "no" },
        el("strong", {}, a.name), " ",
        yes ? el("span", { class: "badge ok" }, t("已签到")) : el("span", { class: "badge bad" }, t("未签到")),
        yes && at ? el("small", { class: "tp-muted" }, " " + clockTime(at / 1e6)) : ""));
    }
    $("attendance-summary").textContent = t("已签到 {signed} / 共 {n} 家", { signed, n: hall.attendance.length });
  }

  function setBid(b) {
    const old = hall.bids.get(b.bid_id);
    if (old && BID_STEP[old.status] >= BID_STEP[b.status]) return;
    if (b.status === "opening") { // how many bids this page saw being decrypted (the tests read it)
      const list = $("bid-status");
      list.dataset.seenOpening = String(Number(list.dataset.seenOpening || 0) + 1);
    }
    hall.bids.set(b.bid_id, Object.assign({}, old || {}, b));
  }

  // Bid by bid: 待解密 → 解密中 → 已解密 / 解密失败 (with the reason).
  function renderBids() {
    const box = $("bids-box");
    box.hidden = hall.bids.size === 0;
    const list = $("bid-status");
    list.innerHTML = "";
    for (const b of hall.bids.values()) {
      const cls = b.status === "opened" ? "badge ok" : b.status === "failed" ? "badge bad" : "badge";
      const item = el("li", { "data-bidder": b.bidder, "data-status": b.status },
        el("strong", {}, b.bidder_name), " ", el("span", { class: cls }, BID_STATUS[b.status] || b.status));
      if (b.status === "failed") item.append(el("br"), reasonNode(b.reason, b.code));
      list.append(item);
    }
  }

  function renderHead() {
    const head = $("record-head");
    head.innerHTML = "";
    head.append(el("th", {}, "#"), el("th", {}, t("投标人")));
    if (lots().length) head.append(el("th", {}, t("分包")), el("th", { "data-key": "lot-price" }, t("报价（元）")));
    for (const f of hall.fields) head.append(el("th", { "data-key": f.key }, fieldLabel(f)));
    head.append(el("th", {}, t("文件")), el("th", {}, t("状态")));
  }

  const lots = () => (hall.tender && hall.tender.lots) || [];
  const lotName = (n) => {
    const lot = lots().find((l) => l.lot === n);
    return t("第{n}包", { n }) + (lot ? ` ${lot.name}` : "");
  };

  // One line per bid, or per bid and lot on a multi-lot tender (开标记录表 分包).
  function rowNodes(row) {
    const parts = lots().length && row.lots && row.lots.length ? row.lots : [null];
    return parts.map((lot) => lineNode(row, lot));
  }

  function lineNode(row, lot) {
    const tr = el("tr", { class: row.status === "opened" ? "opened" : "tp-failed-row", "data-seq": row.seq, "data-bidder": row.bidder });
    markRead(tr);
    if (lot) tr.dataset.lot = String(lot.lot);
    tr.append(el("td", {}, String(row.seq)), el("td", { class: "bidder" }, row.bidder_name));
    if (lots().length) {
      tr.append(el("td", { class: "lot" }, lot ? lotName(lot.lot) : ""),
        el("td", { "data-key": "lot-price", class: "tp-num" }, lot ? money(String(lot.price)) : ""));
    }
    for (const f of hall.fields) {
      const v = row.fields ? row.fields[f.key] : undefined;
      const text = v === undefined || v === null ? "" : f.type === "money" ? money(String(v)) : String(v);
      tr.append(el("td", { "data-key": f.key, class: f.type === "text" ? "" : "tp-num" }, text));
    }
    const docs = el("td", {});
    for (const d of row.documents || []) docs.append(el("div", {}, d.name, " ", el("small", { class: "tp-muted" }, pb.size(d.size))));
    tr.append(docs);
    const status = el("td", {});
    if (row.status === "opened") status.append(el("span", { class: "badge ok" }, t("已开启")));
    else status.append(el("span", { class: "badge bad" }, t("未能开启")), el("br"), reasonNode(row.reason, row.code));
    tr.append(status);
    return tr;
  }

  // 唱标: every row stays in the record; the ones read out are marked, the one being read is highlighted.
  function markRead(tr) {
    const seq = Number(tr.dataset.seq);
    const last = hall.readOut.length ? hall.readOut[hall.readOut.length - 1].seq : null;
    const read = hall.readOut.some((r) => r.seq === seq);
    tr.dataset.read = read ? "yes" : "no";
    tr.classList.toggle("tp-reading", seq === last);
  }

  function renderReadOut() {
    for (const tr of $("record-rows").children) markRead(tr);
    const banner = $("readout-now");
    const last = hall.readOut[hall.readOut.length - 1];
    const row = last && hall.rows.get(last.seq);
    banner.hidden = !row;
    if (row) {
      banner.textContent = t("正在唱标：第 {seq} 号 {name}", { seq: row.seq, name: row.bidder_name });
      banner.dataset.seq = String(row.seq);
    }
    const total = hall.rows.size;
    const done = new Set(hall.readOut.map((r) => r.seq)).size;
    $("readout-progress").textContent = total ? t("已唱标 {done} / 共 {n} 家", { done, n: total }) : "";
    const button = $("readout-button");
    button.hidden = !(data.owner && hall.tender && READ_OUT_STATES.includes(hall.tender.state) && total);
    button.textContent = done < total ? t("唱标（下一家）") : t("已全部唱标");
    button.disabled = done >= total;
  }

  function renderAnnouncements() {
    const box = $("announce-box");
    box.hidden = !data.owner && hall.announcements.length === 0;
    $("announce-form").hidden = !data.owner;
    const list = $("announcements");
    list.innerHTML = "";
    for (const a of [...hall.announcements].reverse()) {
      list.append(el("li", { "data-index": a.index },
        el("small", { class: "tp-muted" }, clockTime(a.at_us / 1e6)), el("br"), el("span", { class: "text" }, a.text)));
    }
  }

  function addRow(row) {
    setBid({ bid_id: row.bid_id, bidder: row.bidder, bidder_name: row.bidder_name, status: row.status, reason: row.reason, code: row.code });
    renderBids();
    if (hall.rows.has(row.seq)) return;
    hall.rows.set(row.seq, row);
    const body = $("record-rows");
    const after = [...body.children].find((tr) => Number(tr.dataset.seq) > row.seq);
    for (const node of rowNodes(row)) {
      body.insertBefore(node, after || null);
      node.classList.add("tp-new");
      setTimeout(() => node.classList.remove("tp-new"), 1500);
    }
    renderSummary();
  }

  function renderRows() {
    renderHead();
    $("record-rows").innerHTML = "";
    const rows = [...hall.rows.values()].sort((a, b) => a.seq - b.seq);
    for (const row of rows) $("record-rows").append(...rowNodes(row));
    renderSummary();
    renderReadOut();
  }

  function renderSummary() {
    const rows = [...hall.rows.values()];
    const opened = rows.filter((r) => r.status === "opened").length;
    const note = $("record-note");
    const state = hall.tender && hall.tender.state;
    if (state === "confirming") note.textContent = t("开标记录表已完整公布，等待投标人确认");
    else if (hall.record && hall.record.final) note.textContent = t("开标记录表已完整公布");
    else if (rows.length) note.textContent = t("唱标中…");
    $("record-actions").hidden = !rows.length || state === "opening" || state === "published";
    const signable = !$("record-actions").hidden;
    $("signing-box").hidden = !signable;
    if (signable && !hall.signing) loadSigning();
    $("record-summary").textContent = rows.length
      ? t("已开启 {opened} · 未能开启 {failed}", { opened, failed: rows.length - opened }) +
        (hall.record && hall.record.min_bids ? " · " + t("最少有效投标 {n}", { n: hall.record.min_bids }) : "")
      : "";
    $("record").dataset.rows = String(rows.length);
  }

  // 签署: the host signs the record as it stands (its SHA-256); each signature names the version signed.
  let signingLoad = null;
  function loadSigning() {
    if (signingLoad) return signingLoad;
    signingLoad = pb.api("GET", `/api/tenders/${data.tender_id}/record/document`).then((body) => {
      hall.signing = { sha256: body.sha256, signatures: body.signatures };
      renderSigning();
    }).catch((e) => console.warn("record document", e)).finally(() => { signingLoad = null; });
    return signingLoad;
  }

  function renderSigning() {
    const s = hall.signing;
    if (!s) return;
    const current = s.signatures.filter((x) => x.sha256 === s.sha256);
    const older = s.signatures.length - current.length;
    const list = $("signatures");
    list.innerHTML = "";
    list.dataset.signed = String(current.length);
    if (!s.signatures.length) list.textContent = t("尚未签署");
    for (const x of current) {
      list.append(el("span", { class: "badge ok" }, t("已签署")), " ", el("strong", {}, x.name || "—"), " ",
        el("small", {}, `${clockTime(x.at_us / 1e6)} · ${t("审计日志第 {n} 条", { n: x.index })}`), el("br"));
    }
    if (older) list.append(el("small", {}, t("另有 {n} 个签署针对较早版本", { n: older })));
    const mine = current.some((x) => x.account === data.account);
    const button = $("sign-record");
    button.hidden = !(data.owner || data.role === "supervisor") || mine;  // the host, and supervisors as 监督人
  }

  function renderConfirm() {
    const box = $("confirm-box");
    const state = hall.tender.state;
    const until = confirmUntil();
    const show = ["confirming", "confirmed", "failed"].includes(state) && hall.rows.size > 0;
    box.hidden = !show;
    if (!show) return;
    const open = state === "confirming" && until !== null && now() < until;
    const mine = data.role === "bidder" && inRecord();
    const confirmed = hall.confirmations.has(data.account);
    const objected = [...hall.objections.values()].some((o) => o.bidder === data.account);
    $("confirm-actions").hidden = !(open && mine && !confirmed);
    $("objection-form").hidden = objected;
    if (mine && confirmed) pb.message($("confirm-message"), t("您已确认开标记录"), "ok");
    else if (mine && objected && !$("confirm-message").textContent) pb.message($("confirm-message"), t("您已提出异议"), "info");
    const names = [...hall.confirmations].map(nameOf);
    $("confirmations").textContent = t("已确认（{n}）：{names}", { n: names.length, names: names.join("、") || "—" });
  }

  function renderObjections() {
    const box = $("objections-box");
    const list = $("objections");
    box.hidden = hall.objections.size === 0;
    list.innerHTML = "";
    for (const o of [...hall.objections.values()].sort((a, b) => a.at_us - b.at_us)) {
      const item = el("div", { class: "tp-objection", "data-objection": o.id, "data-bidder": o.bidder });
      item.append(el("p", {}, el("strong", {}, nameOf(o.bidder)), " ",
        el("small", { class: "tp-muted" }, clockTime(o.at_us / 1e6)), el("br"), el("span", { class: "text" }, o.text)));
      if (o.answer) {
        item.append(el("p", { class: "tp-answer" }, el("strong", {}, t("答复") + " "), el("span", { class: "answer-text" }, o.answer)));
      } else if (data.owner) {
        const form = el("form", { class: "tp-form answer-form" });
        const text = el("textarea", { name: "text", rows: 2, required: true });
        const out = el("p", { class: "tp-message" });
        form.append(el("label", {}, t("答复") + " ", text), el("p", {}, el("button", { type: "submit", class: "button" }, t("答复"))), out);
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          try {
            const result = await pb.api("POST", `/api/tenders/${data.tender_id}/record/objections/${o.id}/answer`, { text: text.value });
            applyAnswer(result.objection_id, result.answer, result.answered_us);
          } catch (e) {
            pb.message(out, e.message, "error");
          }
        });
        item.append(form);
      } else {
        item.append(el("p", { class: "tp-muted" }, t("待答复")));
      }
      list.append(item);
    }
  }

  function applyAnswer(id, text, at) {
    const o = hall.objections.get(id);
    if (!o || o.answer) return;
    o.answer = text;
    o.answered_us = at;
    renderObjections();
  }

  function renderAll() {
    renderState();
    renderSignins();
    renderBids();
    renderRows();
    renderConfirm();
    renderObjections();
    renderAnnouncements();
  }

  function tick() {
    if (!hall.tender) return;
    const target = hall.tender.round_time || Date.parse(hall.tender.opening_time) / 1000;
    const left = target - now();
    const state = hall.tender.state;
    const label = $("countdown-label");
    const clock = $("countdown");
    if (state === "published" && left > 0) {
      label.textContent = t("距开标");
      clock.textContent = pb.duration(left);
    } else if (state === "published" || state === "opening") {
      label.textContent = t("开标中");
      clock.textContent = t("唱标…");
    } else {
      label.textContent = STATES[state] || state;
      clock.textContent = state === "failed" ? t("流标") : t("已开标");
    }
    const until = confirmUntil();
    if (until !== null) {
      const rest = until - now();
      $("confirm-countdown").textContent = rest > 0 ? t("{left}（至 {until}）", { left: pb.duration(rest), until: clockTime(until) }) : t("已结束于 {time}", { time: clockTime(until) });
      if (rest <= 0 && !$("confirm-actions").hidden) renderConfirm();
    }
  }

  // ---- events -----------------------------------------------------------------------------

  function applySnapshot(msg) {
    hall.offset = msg.server_time - Date.now() / 1000;
    hall.tender = msg.tender;
    hall.fields = msg.tender.fields || [];
    hall.signins = new Map(msg.signins.map((s) => [s.account, s]));
    hall.rows = new Map();
    hall.confirmations = new Set();
    hall.objections = new Map();
    hall.record = null;
    hall.attendance = msg.attendance || null;
    hall.bids = new Map();
    for (const b of msg.bids || []) setBid(b);
    hall.readOut = msg.read_out || [];
    hall.announcements = msg.announcements || [];
    if (msg.record) applyRecord(msg.record);
    renderAll();
  }

  async function refreshSignins() {
    try {
      const snap = await pb.api("GET", `/api/tenders/${data.tender_id}/hall`);
      for (const s of snap.signins) hall.signins.set(s.account, s);
      if (snap.attendance) hall.attendance = snap.attendance;
      for (const b of snap.bids || []) setBid(b);
      renderSignins();
      renderBids();
    } catch (e) {
      console.warn("sign-in list", e);
    }
  }

  function applyRecord(record) {
    hall.record = hall.record || {};
    for (const k of ["confirm_until", "failed_reason", "valid", "min_bids", "final"]) {
      if (record[k] !== undefined && record[k] !== null) hall.record[k] = record[k];
    }
    if (record.fields && record.fields.length) hall.fields = record.fields;
    if (record.lots && record.lots.length && hall.tender) hall.tender.lots = record.lots;
    if (record.local_beacon && hall.tender) hall.tender.local_beacon = true;
    for (const row of record.rows || []) if (!hall.rows.has(row.seq)) hall.rows.set(row.seq, row);
    for (const a of record.confirmations || []) hall.confirmations.add(a);
    for (const o of record.objections || []) hall.objections.set(o.id, Object.assign({}, o));
  }

  function handle(msg) {
    switch (msg.type) {
      case "snapshot":
        applySnapshot(msg);
        break;
      case "signin":
        hall.signins.set(msg.signin.account, msg.signin);
        renderSignins();
        break;
      case "phase":
        hall.tender.state = msg.state;
        if (msg.state === "opening") refreshSignins(); // the list is revealed at the opening (the event names only)
        if (msg.confirm_until) hall.record = Object.assign(hall.record || {}, { confirm_until: msg.confirm_until });
        if (msg.state === "published" && msg.postponed) {
          hall.tender.opening_time = msg.opening_time;
          hall.tender.opening_round = msg.opening_round;
          hall.tender.round_time = Date.parse(msg.opening_time) / 1000;
          connection.restart(); // a fresh snapshot carries the new round's time
        }
        renderAll();
        break;
      case "bid.status":
        setBid(msg);
        renderBids();
        break;
      case "record.bid":
        addRow(msg.row);
        break;
      case "record.final":
        if (msg.state) hall.tender.state = msg.state;
        applyRecord(Array.isArray(msg.record)
          ? { rows: msg.record, confirm_until: msg.confirm_until, final: true }
          : Object.assign({}, msg.record || {}, { confirm_until: msg.confirm_until, final: true }));
        renderAll();
        break;
      case "failed":
        hall.tender.state = "failed";
        hall.record = Object.assign(hall.record || {}, { failed_reason: msg.reason });
        renderAll();
        break;
      case "confirmation":
        hall.confirmations.add(msg.bidder);
        renderConfirm();
        break;
      case "objection":
        if (!hall.objections.has(msg.objection.id)) hall.objections.set(msg.objection.id, Object.assign({}, msg.objection));
        renderObjections();
        renderConfirm();
        break;
      case "answer":
        applyAnswer(msg.objection_id, msg.text, msg.at_us);
        break;
      case "read_out": {
        hall.readOut.push({ bid_id: msg.bid_id, seq: msg.seq, at_us: msg.at_us });
        renderReadOut();
        const tr = $("record-rows").querySelector(`tr[data-seq="${Number(msg.seq)}"]`);
        if (tr && tr.scrollIntoView) tr.scrollIntoView({ block: "nearest" });
        break;
      }
      case "announcement":
        if (!hall.announcements.some((a) => a.index === msg.index)) hall.announcements.push(msg);
        renderAnnouncements();
        break;
      case "record.signed":
        hall.signing = null; // the signatures and the hash come from the document
        break;
      default:
        break;
    }
    if (hall.signing && ["confirmation", "objection", "answer", "read_out", "record.final", "phase"].includes(msg.type)) {
      hall.signing = null; // the record changed: a new version with a new hash
    }
    if (!hall.signing && !$("signing-box").hidden) loadSigning();
    tick();
  }

  // ---- the connection ---------------------------------------------------------------------

  const connection = {
    ws: null,
    attempts: 0,
    timer: null,
    connect() {
      clearTimeout(this.timer);
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}${data.ws_path}`);
      this.ws = ws;
      setConn("connecting", t("连接中…"));
      ws.onopen = () => {
        this.attempts = 0;
        setConn("open", t("● 实时"));
      };
      ws.onmessage = (event) => {
        try {
          handle(JSON.parse(event.data));
        } catch (e) {
          console.error("hall event", e);
        }
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        const delay = Math.min(10000, 500 * 2 ** this.attempts++);
        setConn("closed", t("连接断开，{s} 秒后重连", { s: Math.ceil(delay / 1000) }));
        this.timer = setTimeout(() => this.connect(), delay);
      };
    },
    restart() {
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close();
      this.connect();
    },
  };

  function setConn(state, text) {
    const badge = $("conn");
    badge.dataset.state = state;
    badge.textContent = text;
  }

  function init() {
    $("signin-button").addEventListener("click", async () => {
      const button = $("signin-button");
      button.disabled = true;
      try {
        const row = await pb.api("POST", `/api/tenders/${data.tender_id}/hall/signin`, {});
        hall.signins.set(row.account, row);
        renderSignins();
      } catch (e) {
        $("signin-note").textContent = e.message;
      } finally {
        button.disabled = false;
      }
    });
    $("print-record").addEventListener("click", () => window.print());
    $("sign-record").addEventListener("click", async () => {
      const button = $("sign-record");
      button.disabled = true;
      try {
        await loadSigning();
        const signed = await pb.api("POST", `/api/tenders/${data.tender_id}/record/sign`, { sha256: hall.signing.sha256 });
        pb.message($("sign-message"), t("开标记录表已签署（审计日志第 {n} 条）", { n: signed.index }), "ok");
        hall.signing = null;
        await loadSigning();
      } catch (e) {
        pb.message($("sign-message"), e.message, "error");
        hall.signing = null;
        loadSigning();
      } finally {
        button.disabled = false;
      }
    });
    $("readout-button").addEventListener("click", async () => {
      const button = $("readout-button");
      button.disabled = true;
      try {
        await pb.api("POST", `/api/tenders/${data.tender_id}/hall/read-out`, {});
        pb.message($("readout-message"), "", "info");
      } catch (e) {
        pb.message($("readout-message"), e.message, "error");
      } finally {
        renderReadOut();
      }
    });
    $("announce-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const a = await pb.api("POST", `/api/tenders/${data.tender_id}/hall/announcements`, { text: $("announce-text").value });
        if (!hall.announcements.some((x) => x.index === a.index)) hall.announcements.push(a);
        $("announce-text").value = "";
        pb.message($("announce-message"), t("公告已发布"), "info");
        renderAnnouncements();
      } catch (e) {
        pb.message($("announce-message"), e.message, "error");
      }
    });
    $("confirm-button").addEventListener("click", async () => {
      try {
        const result = await pb.api("POST", `/api/tenders/${data.tender_id}/record/confirm`);
        hall.confirmations.add(result.bidder);
        renderConfirm();
      } catch (e) {
        pb.message($("confirm-message"), e.message, "error");
      }
    });
    $("objection-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const o = await pb.api("POST", `/api/tenders/${data.tender_id}/record/objections`, { text: $("objection-text").value });
        if (!hall.objections.has(o.id)) hall.objections.set(o.id, Object.assign({}, o));
        pb.message($("confirm-message"), t("异议已提交，等待答复"), "info");
        renderObjections();
        renderConfirm();
      } catch (e) {
        pb.message($("confirm-message"), e.message, "error");
      }
    });
    connection.connect();
    setInterval(tick, 250);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
