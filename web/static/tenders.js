// Tender pages: shared helpers (window.pb) and the new-tender form and tender detail actions.
// Every state-changing call sends the X-CSRF-Token header from <meta name="csrf-token">.
"use strict";

(function () {
  const pb = {};
  window.pb = pb;

  pb.csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  pb.pageData = () => {
    const el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : {};
  };

  /** Call the JSON API; resolves to the body, throws Error(message) on an error answer. */
  pb.api = async (method, url, body) => {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = pb.csrf();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  };

  /** "1,268,000.5" yuan → 126800050 fen (integer arithmetic on the digits: no floats). */
  pb.yuanToFen = (text) => {
    const s = String(text || "").trim().replace(/[,，\s]/g, "");
    const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s);
    if (!m) throw new Error(t("“{text}”不是金额（元，最多两位小数）", { text }));
    return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
  };

  pb.fenToYuan = (fen) => {
    const whole = Math.floor(fen / 100).toLocaleString("en-US");
    return `${whole}.${String(fen % 100).padStart(2, "0")}`;
  };

  const pad = (n) => String(n).padStart(2, "0");

  // Times read on the installation's clock (setting time_zone, <meta name="time-zone">), whatever
  // the browser's own zone: a tender's opening is one moment for every bidder.
  const zone = (document.querySelector('meta[name="time-zone"]') || {}).content || "Asia/Shanghai";
  const clock = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const parts = (unix) => Object.fromEntries(clock.formatToParts(new Date(unix * 1000)).map((p) => [p.type, p.value]));
  /** How far the installation's clock is ahead of UTC at `unix`, in seconds. */
  const offsetAt = (unix) => {
    const p = parts(unix);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) / 1000 - Math.floor(unix);
  };
  /** The zone's name beside a time: 北京时间, or the UTC offset of other zones. */
  pb.zoneName = (unix) => {
    if (["Asia/Shanghai", "Asia/Chongqing", "PRC"].includes(zone)) return t("北京时间");
    const off = offsetAt(unix) / 60, sign = off < 0 ? "-" : "+", a = Math.abs(off);
    return `UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  };

  /** List `errors` (strings) in `box` (a <ul>), hidden when there are none. */
  pb.showErrors = (box, errors) => {
    box.replaceChildren(...errors.map((e) => Object.assign(document.createElement("li"), { textContent: e })));
    box.hidden = !errors.length;
  };

  /** A unix time as "YYYY-MM-DD HH:MM:SS" on the installation's clock. */
  pb.localTime = (unix) => {
    const p = parts(unix);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };

  /** The value of a datetime-local input for a unix time (installation clock). */
  pb.toLocalInput = (unix) => pb.localTime(unix).replace(" ", "T");

  /** A datetime-local input's value, read on the installation's clock → unix seconds, or NaN. */
  pb.fromLocalInput = (value) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
    if (!m) return NaN;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) / 1000;
    let unix = wall - offsetAt(wall);
    unix = wall - offsetAt(unix); // once more, in case the offset changed between the two (DST)
    return unix;
  };

  pb.duration = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400);
    const rest = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
    return d > 0 ? t("{d} 天 {rest}", { d, rest }) : rest;
  };

  pb.size = (n) => {
    for (const [unit, step] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
      if (n >= step) return `${(n / step).toFixed(n % step ? 1 : 0)} ${unit}`;
    }
    return `${n} B`;
  };

  pb.message = (el, text, kind) => {
    if (!el) return;
    el.textContent = text;
    el.dataset.kind = kind || "info";
  };

  /** Fill every <time class="tp-local"> not rendered by the server (data-unix seconds, data-us microseconds, data-iso). */
  pb.localizeTimes = (root) => {
    for (const el of (root || document).querySelectorAll("time.tp-local")) {
      let unix = NaN;
      if (el.dataset.unix) unix = Number(el.dataset.unix);
      else if (el.dataset.us) unix = Number(el.dataset.us) / 1e6;
      else if (el.dataset.iso) unix = Date.parse(el.dataset.iso) / 1000;
      if (Number.isFinite(unix) && !el.hasAttribute("datetime")) {
        el.textContent = `${pb.localTime(unix)} ${pb.zoneName(unix)}`;
        el.setAttribute("datetime", new Date(unix * 1000).toISOString());
      }
    }
  };

  /** The beacon round a time maps to, with window.pingbiao.roundForTime (same rule as the server). */
  pb.roundInfo = (beacon, unix) => {
    if (!Number.isFinite(unix)) return t("请选择开标时间");
    const chain = { genesis_time: beacon.genesis_time, period: beacon.period };
    const round = window.pingbiao ? window.pingbiao.roundForTime(chain, unix) : Math.ceil((unix - chain.genesis_time) / chain.period) + 1;
    const at = chain.genesis_time + (round - 1) * chain.period;
    const past = unix <= Date.now() / 1000;
    return t("对应信标轮次 {round}（{time} 产生），链 {chain}…", { round, time: `${pb.localTime(at)} ${pb.zoneName(at)}`, chain: String(beacon.chain).slice(0, 16) }) +
      (past ? " — " + t("该时间已过") : "") +
      " · " + t("发布后锁定，不能推迟解锁");
  };

  pb.countdowns = () => {
    const tick = () => {
      for (const el of document.querySelectorAll(".tp-countdown[data-until]")) {
        const left = Number(el.dataset.until) - Date.now() / 1000;
        el.textContent = left > 0 ? " — " + t("剩余 {left}", { left: pb.duration(left) }) : " — " + t("已截止");
      }
    };
    tick();
    setInterval(tick, 1000);
  };

  // ---- the new-tender form ------------------------------------------------------------

  function fieldRow(f) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td data-label="${t("键")}"><input class="k" size="14" pattern="[a-z][a-z0-9_]{0,31}"></td>
      <td data-label="${t("中文名")}"><input class="zh" size="10"></td><td data-label="${t("英文名")}"><input class="en" size="14"></td>
      <td data-label="${t("类型")}"><select class="t"><option value="money">${t("金额")}</option>
      <option value="integer">${t("整数")}</option><option value="days">${t("天数")}</option><option value="text">${t("文字")}</option></select></td>
      <td data-label="${t("必填")}"><input type="checkbox" class="r"></td><td><button type="button" class="rm" title="${t("删除")}">✕</button></td>`;
    tr.querySelector(".k").value = f.key || "";
    tr.querySelector(".zh").value = f.label_zh || "";
    tr.querySelector(".en").value = f.label_en || "";
    tr.querySelector(".t").value = f.type || "text";
    tr.querySelector(".r").checked = f.required !== false;
    tr.querySelector(".rm").onclick = () => tr.remove();
    return tr;
  }

  function lotRow(lot) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td data-label="${t("分包名称")}"><input class="n" size="24"></td><td data-label="${t("预算（元）")}"><input class="b" inputmode="decimal" size="14"></td>
      <td><button type="button" class="rm" title="${t("删除")}">✕</button></td>`;
    tr.querySelector(".n").value = lot.name || "";
    tr.querySelector(".b").value = lot.budget_fen === undefined ? "" : (lot.budget_fen / 100).toFixed(2);
    tr.querySelector(".rm").onclick = () => tr.remove();
    return tr;
  }

  const KINDS = [["subjective", () => t("主观分")], ["objective", () => t("客观分")], ["price", () => t("价格分")]];
  const changed = () => document.dispatchEvent(new Event("criteria-changed"));

  function criterionRow(c) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td data-label="${t("评分因素")}"><input class="cn" size="16" maxlength="200"></td>
      <td data-label="${t("类型")}"><select class="ck">${KINDS.map(([k, l]) => `<option value="${k}">${l()}</option>`).join("")}</select></td>
      <td data-label="${t("分值")}"><input class="cp" type="number" min="1" max="100" step="1" size="4"></td>
      <td data-label="${t("可选分值（客观分）")}"><input class="ca" size="12" placeholder="0, 5, 10"></td>
      <td data-label="${t("评分标准")}"><textarea class="cd" rows="1" cols="28" maxlength="2000"></textarea></td><td><button type="button" class="rm" title="${t("删除")}">✕</button></td>`;
    tr.querySelector(".cn").value = c.name || "";
    tr.querySelector(".ck").value = c.kind || "subjective";
    tr.querySelector(".cp").value = c.points === undefined ? "" : c.points;
    tr.querySelector(".ca").value = (c.allowed || []).join(", ");
    tr.querySelector(".cd").value = c.description || "";
    const kindChanged = () => {
      const objective = tr.querySelector(".ck").value === "objective";
      tr.querySelector(".ca").disabled = !objective;
      tr.querySelector(".ca").title = objective ? t("专家只能给出所列分值之一；不填则为 0 或满分") : t("仅客观分可列出可选分值");
    };
    tr.querySelector(".ck").addEventListener("change", () => { kindChanged(); changed(); });
    kindChanged();
    tr.querySelector(".rm").onclick = () => { tr.remove(); changed(); };
    tr.querySelector(".cp").addEventListener("input", changed);
    return tr;
  }

  /** A whole number from a text field, or NaN (1e999, 1.5, "", "abc" are not). */
  const wholeNumber = (text) => (/^\s*[0-9]{1,3}\s*$/.test(text) ? Number(text) : NaN);

  /** A percent with at most two decimals ("30", "12.5"), or NaN. */
  const percentNumber = (text) => (/^\s*[0-9]{1,3}(\.[0-9]{1,2})?\s*$/.test(text) ? Number(text) : NaN);

  const LEAST_PRICE = { goods: 30, services: 10, works: 0 };

  const SME_RANGE = { goods: [10, 20], services: [10, 20], works: [3, 5] };

  /** Every mistake in the tender form, in words (the server checks again, the first one only). */
  function formErrors(body) {
    const errors = [];
    if (!body.title) errors.push(t("请填写项目名称"));
    if (!Number.isInteger(body.budget_fen) || body.budget_fen <= 0) errors.push(t("请填写预算（元，最多两位小数）"));
    body.lots.forEach((lot, i) => {
      if (!lot.name) errors.push(t("第 {n} 个分包没有名称", { n: i + 1 }));
    });
    if (body.opening_time * 1000 <= Date.now()) errors.push(t("开标时间须在将来"));
    const keys = new Set();
    for (const f of body.record_fields) {
      if (!/^[a-z][a-z0-9_]{0,31}$/.test(f.key)) errors.push(t("开标记录表字段的键“{key}”须以小写字母开头，只含小写字母、数字和 _", { key: f.key }));
      if (keys.has(f.key)) errors.push(t("开标记录表字段“{key}”重复", { key: f.key }));
      keys.add(f.key);
      if (!f.label_zh) errors.push(t("开标记录表字段“{key}”缺少中文名", { key: f.key }));
    }
    const points = body.criteria.reduce((a, c) => a + (Number.isInteger(c.points) ? c.points : 0), 0);
    const names = new Set();
    body.criteria.forEach((c, i) => {
      const name = c.name || i + 1;
      if (!c.name) errors.push(t("第 {n} 个评分因素没有名称", { n: i + 1 }));
      else if (names.has(c.name)) errors.push(t("评分因素“{name}”重复", { name }));
      names.add(c.name);
      if (!Number.isInteger(c.points) || c.points < 1 || c.points > 100) errors.push(t("评分因素“{name}”的分值须为 1–100 的整数", { name }));
      if (c.kind === "objective") {
        const bad = c.allowed.filter((a) => !(percentNumber(a) <= c.points));
        if (bad.length) errors.push(t("评分因素“{name}”的可选分值 {values} 须为 0 到该项分值之间、最多两位小数的数", { name, values: bad.join(", ") }));
        else if (c.allowed.length === 1) errors.push(t("评分因素“{name}”的可选分值至少要有两个", { name }));
      }
    });
    const prices = body.criteria.filter((c) => c.kind === "price");
    if (body.evaluation_method === "comprehensive" && body.criteria.length) {
      if (points !== 100) errors.push(t("综合评分法的分值合计须为 100，现为 {points}", { points }));
      if (prices.length !== 1) errors.push(t("综合评分法须有且只有一项价格分，现有 {n} 项", { n: prices.length }));
      else if (prices[0].points < LEAST_PRICE[body.category])
        errors.push(t("价格分权重不得低于 {least}%（87号令第五十五条）", { least: LEAST_PRICE[body.category] }));
    }
    if (body.deviation_threshold !== null && !(percentNumber(body.deviation_threshold) > 0 && percentNumber(body.deviation_threshold) <= 100))
      errors.push(t("畸高畸低偏差阈值须为大于 0、不超过 100 的百分比"));
    if (body.sme_deduction === null && !body.sme_reserved)
      errors.push(t("非专门面向中小企业的项目须填写小微企业价格扣除比例"));
    if (body.sme_deduction !== null) {
      const [low, high] = SME_RANGE[body.category];
      const rate = Number(body.sme_deduction);
      if (body.sme_reserved) errors.push(t("专门面向中小企业的项目不再价格扣除"));
      else if (!Number.isFinite(rate) || rate < low || rate > high) errors.push(t("价格扣除比例须在 {low}%–{high}% 之间", { low, high }));
    }
    if (!Number.isInteger(body.min_bids) || body.min_bids < 1) errors.push(t("最少有效投标数须为正整数"));
    return errors;
  }

  function initNewTender(form) {
    const data = pb.pageData();
    const draft = data.draft;
    const $ = (id) => document.getElementById(id);
    const fieldsBody = document.querySelector("#fields tbody");
    const lotsBody = document.querySelector("#lots tbody");
    const message = $("form-message");
    const spec = draft || {};
    $("f-title").value = spec.title || "";
    $("f-description").value = spec.description || "";
    $("f-method").value = spec.method || "open";
    $("f-invited").value = (spec.invited || []).join("\n");
    $("f-budget").value = spec.budget_fen === undefined ? "" : (spec.budget_fen / 100).toFixed(2);
    $("f-evaluation").value = spec.evaluation_method || "comprehensive";
    if (spec.min_bids) $("f-min-bids").value = spec.min_bids;
    if (spec.max_bid_bytes) $("f-max-bid").value = Math.round(spec.max_bid_bytes / 2 ** 20);
    if (spec.objection_window_s !== undefined) $("f-objection").value = Math.round(spec.objection_window_s / 60);
    const opening = spec.opening_unix || Math.ceil(Date.now() / 1000 / 3600 + 24 * 7) * 3600;
    $("f-opening").value = pb.toLocalInput(opening);
    for (const f of spec.record_fields || data.defaults.record_fields) fieldsBody.append(fieldRow(f));
    for (const lot of spec.lots || []) lotsBody.append(lotRow(lot));
    const criteriaBody = document.querySelector("#criteria tbody");
    for (const c of spec.criteria || []) criteriaBody.append(criterionRow(c));
    $("add-criterion").onclick = () => { criteriaBody.append(criterionRow({})); changed(); };
    $("f-deviation").value = spec.deviation_threshold || "";
    const formula = $("price-formula").textContent;
    const showSum = () => {
      const rows = [...criteriaBody.rows];
      const sum = rows.reduce((a, tr) => a + (wholeNumber(tr.querySelector(".cp").value) || 0), 0);
      $("criteria-sum").textContent = rows.length ? t("合计 {n} 分", { n: sum }) : "";
      const price = rows.find((tr) => tr.querySelector(".ck").value === "price");
      const weight = price ? wholeNumber(price.querySelector(".cp").value) : NaN;
      $("price-formula").textContent = formula + (Number.isFinite(weight) ? " " + t("本项目价格权重 {w}%，最低报价得 {w} 分。", { w: weight }) : "");
    };
    document.addEventListener("criteria-changed", showSum);
    showSum();
    $("f-category").value = spec.category || "goods";
    $("f-sme-reserved").checked = !!spec.sme_reserved;
    $("f-sme").value = spec.sme_deduction || "";
    $("f-evaluation-date").value = spec.evaluation_date || "";
    const smeChanged = () => {
      const [low, high] = SME_RANGE[$("f-category").value];
      $("sme-row").hidden = $("f-sme-reserved").checked;
      $("sme-hint").textContent = $("f-sme-reserved").checked ? "" : t("财库〔2020〕46号第九条：货物和服务 10%–20%，工程 3%–5%；本类别 {low}%–{high}%。", { low, high });
    };
    $("f-category").addEventListener("change", smeChanged);
    $("f-sme-reserved").addEventListener("change", smeChanged);
    smeChanged();
    $("add-field").onclick = () => fieldsBody.append(fieldRow({ type: "text" }));
    $("add-lot").onclick = () => lotsBody.append(lotRow({}));

    const showRound = () => ($("round-info").textContent = pb.roundInfo(data.beacon, pb.fromLocalInput($("f-opening").value)));
    $("f-opening").addEventListener("input", showRound);
    showRound();
    setInterval(showRound, 5000);
    const method = $("f-method");
    const methodChanged = () => {
      $("invited-row").hidden = !["invited", "single_source"].includes(method.value);
      if (!draft) $("f-min-bids").value = method.value === "single_source" ? 1 : 3;
    };
    method.addEventListener("change", methodChanged);
    $("invited-row").hidden = !["invited", "single_source"].includes(method.value);

    const collect = () => {
      const opening = pb.fromLocalInput($("f-opening").value);
      if (!Number.isFinite(opening)) throw new Error(t("请选择开标时间"));
      return {
        title: $("f-title").value.trim(),
        description: $("f-description").value,
        method: method.value,
        invited: $("f-invited").value.split(/[\s,]+/).filter(Boolean),
        budget_fen: pb.yuanToFen($("f-budget").value),
        lots: [...lotsBody.rows].map((tr) => ({
          name: tr.querySelector(".n").value.trim(),
          budget_fen: pb.yuanToFen(tr.querySelector(".b").value),
        })),
        opening_time: opening,
        record_fields: [...fieldsBody.rows].map((tr) => ({
          key: tr.querySelector(".k").value.trim(),
          label_zh: tr.querySelector(".zh").value.trim(),
          label_en: tr.querySelector(".en").value.trim(),
          type: tr.querySelector(".t").value,
          required: tr.querySelector(".r").checked,
        })),
        evaluation_method: $("f-evaluation").value,
        min_bids: Number($("f-min-bids").value),
        max_bid_bytes: Number($("f-max-bid").value) * 2 ** 20,
        objection_window_s: Number($("f-objection").value) * 60,
        criteria: [...criteriaBody.rows].map((tr) => ({
          name: tr.querySelector(".cn").value.trim(),
          points: wholeNumber(tr.querySelector(".cp").value),
          description: tr.querySelector(".cd").value.trim(),
          kind: tr.querySelector(".ck").value,
          allowed: tr.querySelector(".ck").value === "objective" ? tr.querySelector(".ca").value.split(/[\s,，、]+/).filter(Boolean) : [],
        })),
        deviation_threshold: $("f-deviation").value.trim() || null,
        category: $("f-category").value,
        sme_reserved: $("f-sme-reserved").checked,
        sme_deduction: $("f-sme-reserved").checked || !$("f-sme").value.trim() ? null : $("f-sme").value.trim(),
        ...($("f-evaluation-date").value ? { evaluation_date: $("f-evaluation-date").value } : {}),
      };
    };
    const showErrors = (errors) => pb.showErrors($("form-errors"), errors);

    let saved = draft ? draft.id : null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const publish = event.submitter && event.submitter.value === "publish";
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
      try {
        let body = null, errors;
        try {
          body = collect();
          errors = formErrors(body);
        } catch (e) {
          errors = [e.message];
        }
        showErrors(errors);
        if (errors.length) {
          pb.message(message, t("请先改正下列问题"), "error");
          for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = false;
          return;
        }
        pb.message(message, t("保存中…"));
        showErrors([]);
        const tender = saved ? await pb.api("PUT", `/api/tenders/${saved}`, body) : await pb.api("POST", "/api/tenders", body);
        saved = tender.id;
        if (publish) {
          pb.message(message, t("发布中…"));
          await pb.api("POST", `/api/tenders/${saved}/publish`);
        }
        location.href = `/tenders/${saved}`;
      } catch (e) {
        // the server lists every mistake in the criteria on one line, joined by "；"
        const parts = e.message.split("；");
        if (parts.length > 1) showErrors(parts);
        pb.message(message, parts.length > 1 ? t("请先改正下列问题") : e.message, "error");
        for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = false;
      }
    });
  }

  // ---- the tender detail page (agency actions) ---------------------------------------------

  function initDetail() {
    const data = pb.pageData();
    const tender = data.tender;
    for (const resultForm of document.querySelectorAll("form.result-form")) {  // one per lot of a multi-lot tender
      const lot = resultForm.dataset.lot ? { lot: Number(resultForm.dataset.lot) } : {};
      resultForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = resultForm.querySelector(".tp-message");
        if (!confirm(t("公告后不能撤回：确定公告该结果？"))) return;
        try {
          await pb.api("POST", `/api/tenders/${tender.id}/result`, { winner: resultForm.winner.value, note: resultForm.note.value, ...lot });
          location.reload();
        } catch (e) {
          pb.message(out, e.message, "error");
        }
      });
    }
    const publish = document.getElementById("publish");
    if (publish) {
      publish.onclick = async () => {
        publish.disabled = true;
        try {
          await pb.api("POST", `/api/tenders/${tender.id}/publish`);
          location.reload();
        } catch (e) {
          alert(e.message);
          publish.disabled = false;
        }
      };
    }
    const amend = document.getElementById("amend-form");
    if (amend) {
      amend.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = amend.querySelector(".tp-message");
        try {
          const f = amend.elements;
          const proposed = {
            title: f.title.value.trim(),
            description: f.description.value,
            budget_fen: pb.yuanToFen(f.budget.value),
            min_bids: Number(f.min_bids.value),
            objection_window_s: Number(f.objection_min.value) * 60,
          };
          const changes = {};
          for (const [k, v] of Object.entries(proposed)) if (v !== tender[k]) changes[k] = v;
          if (!Object.keys(changes).length) throw new Error(t("没有变更"));
          await pb.api("POST", `/api/tenders/${tender.id}/amend`, { changes, reason: f.reason.value });
          location.reload();
        } catch (e) {
          pb.message(out, e.message, "error");
        }
      });
    }
    const postpone = document.getElementById("postpone-form");
    if (postpone) {
      const input = postpone.elements.opening_time;
      input.value = pb.toLocalInput(tender.opening_unix + 86400);
      const info = postpone.querySelector(".round-info");
      fetch("/api/beacon").then((r) => r.json()).then((beacon) => {
        const show = () => (info.textContent = pb.roundInfo(beacon, pb.fromLocalInput(input.value)));
        input.addEventListener("input", show);
        show();
      });
      postpone.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = postpone.querySelector(".tp-message");
        if (!confirm(t("延期将作废所有已提交的投标，投标人须重新加密提交。继续？"))) return;
        try {
          await pb.api("POST", `/api/tenders/${tender.id}/postpone`, {
            opening_time: pb.fromLocalInput(input.value),
            reason: postpone.elements.reason.value,
          });
          location.reload();
        } catch (e) {
          pb.message(out, e.message, "error");
        }
      });
    }
    for (const form of document.querySelectorAll("form.answer-form")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = form.querySelector(".tp-message");
        try {
          await pb.api("POST", `/api/tenders/${tender.id}/record/objections/${form.dataset.objection}/answer`, {
            text: form.elements.text.value,
          });
          location.reload();
        } catch (e) {
          pb.message(out, e.message, "error");
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    pb.localizeTimes();
    pb.countdowns();
    const form = document.getElementById("tender-form");
    if (form) initNewTender(form);
    if (document.getElementById("tender-title")) initDetail();
  });
})();
