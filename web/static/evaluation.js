// The evaluation session page (评标): check-in with a WebCrypto signing key (ECDSA P-256, the
// private key non-extractable, kept in IndexedDB), the leader vote, the scoring sheet signed in
// the browser, the review with signed changes, the tally and the report signature.
// Signed documents are canonical JSON (sorted keys, no spaces), as the server checks them.
"use strict";

(function () {
  const pb = window.pb;
  const data = pb.pageData();
  const T = data.tender_id;  // the session's id: the tender's, or one lot's "<tender>.<lot>"
  const $ = (id) => document.getElementById(id);
  let view = null;

  // -- canonical JSON, exact points, keys ------------------------------------------------------
  const canon = (v) => {
    if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
    if (v !== null && typeof v === "object") {
      return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
    }
    return JSON.stringify(v);
  };
  const gcd = (a, b) => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));
  /** "39.5" or "79/2" -> "79/2"; "40" -> "40" (Python's str(Fraction)). */
  const frac = (text) => {
    const s = String(text).trim();  // not "t": that is the translation function the error uses
    let n, d;
    if (/^-?\d+\/\d+$/.test(s)) [n, d] = s.split("/").map(BigInt);
    else if (/^-?\d+(\.\d+)?$/.test(s)) {
      const [w, f = ""] = s.split(".");
      n = BigInt(w + f);
      d = 10n ** BigInt(f.length);
    } else throw new Error(t("分值无效：{text}", { text }));
    if (d === 0n) throw new Error(t("分母为零"));
    const g = gcd(n, d);
    n /= g; d /= g;
    return d === 1n ? `${n}` : `${n}/${d}`;
  };
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

  const idb = () => new Promise((resolve, reject) => {
    const r = indexedDB.open("pingbiao-keys", 1);
    r.onupgradeneeded = () => r.result.createObjectStore("keys");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const idbDo = async (mode, fn) => {
    const db = await idb();
    return new Promise((resolve, reject) => {
      const req = fn(db.transaction("keys", mode).objectStore("keys"));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  };
  const keyName = () => `eval:${T}:${data.account}`;
  const state = { hasKey: undefined };  // whether this browser holds this member's signing key
  idbDo("readonly", (s) => s.get(keyName())).then((pair) => { state.hasKey = !!pair; }, () => { state.hasKey = false; });
  async function signingKey(create) {
    let pair = await idbDo("readonly", (s) => s.get(keyName()));
    if (!pair && create) {
      pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      await idbDo("readwrite", (s) => s.put(pair, keyName()));
      state.hasKey = true;
    }
    if (!pair) throw new Error(t("本浏览器没有签名密钥"));
    return pair;
  }
  async function signed(kind, fields) {
    const text = canon({ kind, tender: T, signer: data.account, ...fields });
    const pair = await signingKey(false);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(text));
    return { document: text, signature: b64(sig) };
  }

  // -- actions --------------------------------------------------------------------------------------
  const say = (text, bad) => { $("eval-message").textContent = text; $("eval-message").dataset.bad = bad ? "1" : ""; };
  async function act(fn, done) {
    try {
      view = await fn();
      say(done || "");
      render();
      every(LIVE_MS);
    } catch (e) {
      say(e.message, true);
    }
  }
  const post = (path, body) => pb.api("POST", `/api/evaluation/${T}${path}`, body);

  /** The start form's config: every mistake at once; an empty threshold keeps the tender's. */
  const startConfig = () => {
    const errors = [];
    const config = {};
    const percent = $("start-threshold").value.trim();
    if (percent) {
      if (!/^\d{1,3}(\.\d{1,2})?$/.test(percent) || !(Number(percent) > 0 && Number(percent) <= 100)) {
        errors.push(t("畸高畸低偏差阈值须为大于 0、不超过 100 的百分数（最多两位小数）"));
      } else {
        const [n, d = "1"] = frac(percent).split("/");
        config.deviation_threshold = `${n}/${BigInt(d) * 100n}`;  // exact: 12.5 % → 25/200
      }
    }
    const recommend = Number($("start-recommend").value);
    if (!Number.isInteger(recommend) || recommend < 1 || recommend > 20) errors.push(t("推荐人数须为 1–20 的整数"));
    config.recommend = recommend;
    if (errors.length) throw new Error(errors.join("；"));
    return config;
  };
  $("start-form").onsubmit = (event) => {
    event.preventDefault();
    const lot = $("start-lot");  // a tender of several lots evaluates one lot per session
    act(async () => {
      const started = await post("/start", { config: startConfig(), ...(lot ? { lot: Number(lot.value) } : {}) });
      if (started.id !== T) location.assign(`/evaluation/${encodeURIComponent(started.id)}`);  // the chosen lot's session
      return started;
    }, t("评标已开始"));
  };
  $("add-rep").onclick = () => act(() => post("/members", { username: $("rep-account").value.trim() }), t("已添加"));
  /** The avoidance answers, one per bidder; throws naming the first bidder left unanswered. */
  const avoidance = () => bidders().map((b, i) => {
    const picked = document.querySelector(`input[name="avoid-${i}"]:checked`);
    if (!picked) throw new Error(t("请声明与 {name} 是否存在利害关系", { name: b.bidder_name }));
    const reason = $(`avoid-reason-${i}`).value.trim();
    const conflict = picked.value === "yes";
    if (conflict && !reason) throw new Error(t("请说明与 {name} 的关系", { name: b.bidder_name }));
    return { bidder: b.bidder, conflict, reason: conflict ? reason : "" };
  });
  $("checkin").onclick = () => act(async () => {
    if (!$("ck-identity").checked || !$("ck-commitment").checked) {
      throw new Error(t("请确认身份并接受承诺书"));
    }
    const answers = avoidance();
    const body = {
      identity_confirmed: true,
      declaration_sha256: view.texts.declaration_sha256,
      commitment_sha256: view.texts.commitment_sha256,
      avoidance: answers,
    };
    if (answers.some((a) => a.conflict)) {
      if (!window.confirm(t("您声明与投标人存在利害关系，提交后将回避本次评标。确定吗？"))) throw new Error(t("未提交"));
      return post("/checkin", body);
    }
    const pair = await signingKey(true);
    const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
    return post("/checkin", { ...body, public_key: b64(spki) });
  }, t("已提交签到"));
  $("rekey-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(async () => {
      const password = $("rekey-form").password.value;
      if (!password) throw new Error(t("请输入登录密码"));
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
      const out = await post("/key", { public_key: b64(spki), password, reason: "lost" });
      await idbDo("readwrite", (s) => s.put(pair, keyName()));  // kept only once the server took it
      state.hasKey = true;
      $("rekey-form").reset();
      return out;
    }, t("已重新登记签名密钥"));
  });
  $("vote").onclick = () => act(() => post("/votes", { candidate: $("vote-candidate").value }), t("已投票"));
  $("submit-sheets").onclick = () => act(async () => {
    const sheets = view.bids.map((b) => {
      const scores = {};
      document.querySelectorAll(`#sheet .score[data-bid="${b.bid}"]`).forEach((i) => {
        if (!i.value.trim()) throw new Error(t("请为 {bidder} 的“{criterion}”评分", { bidder: b.bidder_name, criterion: titleOf(i.dataset.code) }));
        scores[i.dataset.code] = frac(i.value);
      });
      const sorted = {};
      Object.keys(scores).sort().forEach((k) => { sorted[k] = scores[k]; });
      return { bid: b.bid, expert: data.account, scores: sorted, total: null };
    });
    return post("/sheets", await signed("pingbiao-sheets/1", { sheets }));
  }, t("已提交并签名"));
  $("change-submit").onclick = () => act(async () => {
    const change = {
      expert: data.account, bid: $("change-bid").value, criterion: $("change-criterion").value,
      new: frac($("change-new").value), reason: $("change-reason").value, explanation: $("change-explanation").value,
    };
    return post("/changes", await signed("pingbiao-change/1", { change }));
  }, t("已修改"));
  $("tally").onclick = () => act(() => post("/tally"), t("已汇总"));
  $("sign-report").onclick = () => act(async () => post("/report/signatures", await signed("pingbiao-report/1", { sha256: view.report_sha256 })), t("已签署"));

  // -- rendering --------------------------------------------------------------------------------------
  const show = (id, on) => { $(id).hidden = !on; };
  const cell = (tag, text) => { const el = document.createElement(tag); el.textContent = text; return el; };
  const row = (cells, tag = "td") => { const tr = document.createElement("tr"); cells.forEach((c) => tr.append(cell(tag, c))); return tr; };
  /** One 畸高畸低 row: the score against the median and the other experts' range; the expert who
   *  gave an open one may confirm it with a reason (or change it with the changes form). */
  function deviationRow(d, mine) {
    const range = d.others_low === d.others_high ? dec(d.others_low) : `${dec(d.others_low)}–${dec(d.others_high)}`;
    const tr = row([bidName(d.bid), nameOf(d.expert), titleOf(d.criterion), dec(d.score), dec(d.median), range]);
    Object.assign(tr.dataset, { expert: d.expert, bid: d.bid, criterion: d.criterion });
    tr.className = "deviation";
    const last = cell("td", "");
    tr.append(last);
    if (d.reason !== null && d.reason !== undefined) {
      tr.classList.add("confirmed");
      last.textContent = t("已确认：{reason}", { reason: d.reason });
    } else if (mine) {
      const open = cell("button", t("确认评分"));
      Object.assign(open, { type: "button", className: "confirm-open" });
      const form = document.createElement("span");
      form.className = "confirm-form";
      form.hidden = true;
      const reason = document.createElement("input");
      Object.assign(reason, { className: "confirm-reason", maxLength: 1000, size: 30, placeholder: t("确认理由") });
      const send = cell("button", t("提交确认"));
      Object.assign(send, { type: "button", className: "confirm-submit" });
      const cancel = cell("button", t("取消"));
      Object.assign(cancel, { type: "button", className: "confirm-cancel" });
      form.append(reason, " ", send, " ", cancel);
      open.onclick = () => { open.hidden = true; form.hidden = false; reason.focus(); };
      cancel.onclick = () => { form.hidden = true; open.hidden = false; };
      send.onclick = () => act(() => post("/deviations/confirm", { bid: d.bid, criterion: d.criterion, reason: reason.value }),
        t("已确认"));
      last.append(open, form);
    }
    return tr;
  }
  /** The session's bidders, once each, in bid order (a bidder may have bids in several lots). */
  const bidders = () => view.bids.filter((b, i) => view.bids.findIndex((o) => o.bidder === b.bidder) === i);
  function avoidanceRows() {
    return bidders().map((b, i) => {
      const tr = document.createElement("tr");
      const radios = cell("td", "");
      radios.dataset.label = t("存在上述关系");
      for (const [value, text] of [["no", t("否")], ["yes", t("是，须回避")]]) {
        const label = cell("label", "");
        const input = document.createElement("input");
        Object.assign(input, { type: "radio", name: `avoid-${i}`, value });
        input.dataset.bidder = b.bidder;
        label.append(input, " " + text + " ");
        radios.append(label);
      }
      const reason = document.createElement("input");
      Object.assign(reason, { id: `avoid-reason-${i}`, maxLength: 500, size: 30 });
      const why = cell("td", "");
      why.dataset.label = t("关系说明（存在时必填）");
      why.append(reason);
      const name = cell("td", b.bidder_name);
      name.className = "bidder";
      tr.append(name, radios, why);
      return tr;
    });
  }
  /** A criterion as the tender names it (its code only when the tender gives no name). */
  const titleOf = (code) => {
    const c = (data.criteria || {})[code] || {};
    return c.name || ((view.criteria.find((x) => x.code === code) || {}).title) || code;
  };
  /** An exact score ("79/2") as a reader writes it ("39.5"). */
  const dec = (text) => {
    const m = /^(-?\d+)\/(\d+)$/.exec(String(text));
    return m ? String(Math.round((Number(m[1]) / Number(m[2])) * 100) / 100) : String(text);
  };
  const REASONS = { sum_error: t("计算错误"), out_of_scale: t("分值超出范围"),
    objective_inconsistent: t("客观分不一致"), abnormal_high_low: t("畸高畸低") };
  /** A review finding in words: the bidder, the expert and the criterion by name. */
  const findingText = (f) => {
    const values = { expert: f.expert ? nameOf(f.expert) : "", criterion: f.criterion ? titleOf(f.criterion) : "" };
    let text;
    if (f.problem === "objective_inconsistent") {
      const spread = (view.current || []).filter((sh) => sh.bid === f.bid && f.criterion in sh.scores)
        .map((sh) => `${nameOf(sh.expert)} ${dec(sh.scores[f.criterion])}`).join("、");
      text = t("“{criterion}”各专家给分不一致（{spread}）", { ...values, spread });
    } else if (f.problem === "out_of_scale") text = t("{expert} 对“{criterion}”的评分超出范围", values);
    else if (f.problem === "sum_error") text = t("{expert} 的评分合计有误", values);
    else if (f.problem === "missing") text = t("{expert} 未对“{criterion}”评分", values);
    else text = t("{expert} 评了不存在的评分因素", values);
    return `${bidName(f.bid)}：${text}`;
  };
  /** One row of the score sheet: the criterion (title, kind, points, description) and a box per bid. */
  function sheetRow(c) {
    const info = (data.criteria || {})[c.code] || {};
    const tr = document.createElement("tr");
    tr.dataset.code = c.code;
    const what = cell("td", "");
    what.className = "criterion";
    const price = c.kind === "price";
    const kind = price ? t("价格分") : c.allowed.length ? t("客观分") : t("主观分");
    what.append(cell("strong", titleOf(c.code)), " ", cell("span", `${kind} · ${t("{n} 分", { n: dec(c.max_points) })}`));
    if (info.description) what.append(cell("small", info.description));
    if (c.allowed.length) what.append(cell("small", `${t("可选分值")}：${c.allowed.map(dec).join("、")}`));
    if (price) what.append(cell("small", t("价格分 = 评标基准价 / 投标报价 × 价格分值（87号令第五十五条）")));
    tr.append(what);
    view.bids.forEach((b) => {
      const td = document.createElement("td");
      td.dataset.label = b.bidder_name;
      if (price) {
        const out = cell("output", b.price_score_display ? dec(b.price_score_display) : "—");
        out.className = "price-score";
        out.dataset.bid = b.bid;
        td.append(out);
      } else {
        let box;
        if (c.allowed.length) {
          box = document.createElement("select");
          box.append(cell("option", "—"), ...c.allowed.map((a) => { const o = cell("option", dec(a)); o.value = a; return o; }));
          box.options[0].value = "";
        } else {
          box = document.createElement("input");
          Object.assign(box, { size: 5, inputMode: "decimal", placeholder: `${dec(c.minimum)}–${dec(c.max_points)}` });
        }
        box.className = "score";
        box.dataset.bid = b.bid;
        box.dataset.code = c.code;
        box.setAttribute("aria-label", `${b.bidder_name} · ${titleOf(c.code)}`);
        td.append(box);
      }
      tr.append(td);
    });
    return tr;
  }
  const nameOf = (account) => ((view.members.find((m) => m.account === account) || {}).name || account);
  const bidName = (bid) => ((view.bids.find((b) => b.bid === bid) || {}).bidder_name || bid);
  const options = (sel, items) => {
    const keep = sel.value;
    sel.replaceChildren(...items.map(([v, t]) => { const o = cell("option", t); o.value = v; return o; }));
    if (items.some(([v]) => v === keep)) sel.value = keep;
  };

  function render() {
    const s = view.state;
    const me = view.me;
    $("eval-state").dataset.state = s;
    $("eval-state").textContent = (data.states || {})[s] || s;
    show("start-box", false);
    show("members-box", true);
    $("members").replaceChildren(...view.members.map((m) => {
      const site = m.site ? `${(data.sites || {})[m.site] || m.site} · ` : "";
      const li = cell("li", `${m.seat}. ${m.name} · ${m.kind === "expert" ? t("专家") : t("采购人代表")} · ${site}`
        + `${m.checked_in ? t("已签到") : t("未签到")}${m.submitted ? " · " + t("已提交") : ""}`
        + `${m.signed ? " · " + t("已签署") : ""}${view.leader === m.account ? " · " + t("评标组长") : ""}`);
      if (m.recused) {
        li.append(" · " + t("已回避") + ": " + m.recusal.map((r) => `${r.bidder_name}（${r.reason}）`).join("；"));
        li.className = "warn";
        if (m.released) li.append(" · " + t("不再补足"));
        if (view.tender.owner && s === "checkin" && !m.released && !view.members.some((o) => o.fills === m.seat)) {
          const refill = cell("button", t("补抽专家"));
          Object.assign(refill, { type: "button", className: "refill" });
          refill.onclick = () => act(() => post(`/members/${encodeURIComponent(m.account)}/refill`), t("已补抽，等待替补专家接受邀请"));
          const release = cell("button", t("不再补足"));
          Object.assign(release, { type: "button", className: "release", title: t("现有成员仍符合评标委员会组成要求时，可不再补足该席位") });
          release.onclick = () => {
            const reason = prompt(t("请说明不再补足的理由"), t("备选专家已用尽，现有成员符合组成要求"));
            if (reason !== null) act(() => post(`/members/${encodeURIComponent(m.account)}/release`, { reason }), t("该席位不再补足"));
          };
          if (m.kind === "expert") li.append(" ", refill);
          li.append(" ", release);
        }
      }
      li.dataset.account = m.account;
      li.dataset.checkedIn = m.checked_in ? "1" : "";
      li.dataset.recused = m.recused ? "1" : "";
      return li;
    }));
    show("rep-box", view.tender.owner && s === "checkin");
    show("checkin-box", !!me && s === "checkin" && !me.checked_in && !me.recused);
    show("recused-box", !!me && !!me.recused);
    if (!$("avoidance-rows").rows.length) $("avoidance-rows").replaceChildren(...avoidanceRows());
    show("rekey-box", !!me && me.checked_in && s !== "done" && state.hasKey === false);
    if (me) $("my-name").textContent = nameOf(me.account);
    $("declaration-text").textContent = view.texts.declaration;
    $("commitment-text").textContent = view.texts.commitment;
    show("vote-box", !!me && s === "election" && !me.voted_for);
    $("vote-round").textContent = t("第 {n} 轮", { n: view.vote_round });
    options($("vote-candidate"), view.members.filter((m) => m.kind === "expert" && !m.recused).map((m) => [m.account, m.name]));
    const scored = view.criteria.filter((c) => c.kind !== "price");
    show("sheet-box", !!me && s === "scoring" && !me.submitted);
    if (!$("sheet").rows.length && scored.length) {
      const head = document.createElement("thead");
      head.append(row([t("评分因素"), ...view.bids.map((b) => b.bidder_name)], "th"));
      const body = document.createElement("tbody");
      body.append(...view.criteria.map(sheetRow));
      $("sheet").append(head, body);
    } else {  // the price scores follow the bids (a correction or a decision changes them)
      view.bids.forEach((b) => {
        const out = document.querySelector(`#sheet output.price-score[data-bid="${b.bid}"]`);
        if (out) out.textContent = b.price_score_display ? dec(b.price_score_display) : "—";
      });
    }
    const reviewing = view.review !== null;
    show("review-box", reviewing);
    if (reviewing) {
      // Rebuilt only when the deviations change: the refresh each second must not wipe a reason being typed.
      const sig = JSON.stringify([view.review.deviations, s]);
      if ($("deviations").dataset.sig !== sig) {
        $("deviations").dataset.sig = sig;
        $("deviations").replaceChildren(row([t("投标人"), t("专家"), t("因素"), t("分"), t("中位数"), t("其他专家"), ""], "th"),
          ...view.review.deviations.map((d) => deviationRow(d, s === "review" && d.expert === data.account)));
      }
      $("findings").replaceChildren(...view.review.findings.map((f) => cell("li", findingText(f))));
      $("low-bids").textContent = Object.entries(view.review.abnormally_low).map(([b, why]) => `${t("异常低价")}: ${bidName(b)} — ${why}`).join("; ");
      $("all-scores").replaceChildren(row([t("投标人"), t("专家"), ...scored.map((c) => titleOf(c.code))], "th"),
        ...view.current.map((sh) => row([bidName(sh.bid), nameOf(sh.expert), ...scored.map((c) => (c.code in sh.scores ? dec(sh.scores[c.code]) : "—"))])));
      $("changes").replaceChildren(...view.changes.map((c) => cell("li", `${t("修改")} ${nameOf(c.expert)} ${bidName(c.bid)} ${titleOf(c.criterion)} → ${dec(c.new)}（${REASONS[c.reason] || c.reason}）：${c.explanation}`)));
      show("change-form", !!me && s === "review");
      options($("change-bid"), view.bids.map((b) => [b.bid, b.bidder_name]));
      options($("change-criterion"), scored.map((c) => [c.code, titleOf(c.code)]));
      show("tally", !!me && me.leader && s === "review");
    }
    show("tally-box", !!view.tally);
    if (view.tally) {
      $("ranking").replaceChildren(row([t("名次"), t("投标人"), t("总分")], "th"),
        ...view.ranking.map((b) => row([b.rank === null ? t("无效") : String(b.rank), bidName(b.bid), b.rank === null ? b.invalid : b.total_display])));
      $("recommended").textContent = view.tally.recommendation.candidates.map(bidName).join(", ");
    }
    show("report-box", !!view.report_sha256);
    $("report-sha").textContent = view.report_sha256 || "";
    show("sign-report", !!me && s === "signing" && !me.signed);
    $("signers").textContent = view.report_signers.length ? t("已签署") + " " + view.report_signers.map(nameOf).join(", ") : "";
  }

  // Every second while the session runs; before it starts (404) only every 15 s, to notice the
  // start without asking the server each second for something that does not exist yet.
  const LIVE_MS = 1000, WAITING_MS = 15000;
  let timer = null;
  function every(ms) {
    if (timer && timer.ms === ms) return;
    if (timer) clearInterval(timer.id);
    timer = { ms, id: setInterval(refresh, ms) };
  }
  async function refresh() {
    try {
      view = await pb.api("GET", `/api/evaluation/${T}`);
      render();
      every(LIVE_MS);
    } catch (e) {
      if (e.status === 404) {
        show("start-box", data.role === "agency");
        $("eval-state").dataset.state = "none";
        $("eval-state").textContent = (data.states || {}).none || "—";
        every(WAITING_MS);
      } else say(e.message, true);
    }
  }
  refresh();
})();
