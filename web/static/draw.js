// The expert-draw form (专家抽取申请): every field checked in the page, all errors shown at once,
// then POST /api/tenders/{id}/draw (docs/experts.md, "Requesting a draw"); the server checks again.
"use strict";
(() => {
  const form = document.getElementById("draw-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const tender = form.dataset.tender;

  function addRow(table, cells) {
    const tr = document.createElement("tr");
    tr.innerHTML = cells + `<td><button type="button" class="remove">${t("删除")}</button></td>`;
    tr.querySelector(".remove").onclick = () => tr.remove();
    $(table).querySelector("tbody").append(tr);
    return tr;
  }
  $("add-specialty").onclick = () => addRow("specialties",
    '<td><input class="code" size="10" maxlength="40"></td><td><input class="count" type="number" min="1" step="1" value="1" size="4"></td>');
  $("add-site").onclick = () => addRow("sites",
    '<td><input class="site" size="10" maxlength="40" placeholder="hz-1"></td>' +
    `<td><select class="role"><option value="main">${t("主场")}</option><option value="remote">${t("副场")}</option></select></td>` +
    '<td><input class="regions" size="16" placeholder="3301, 3302"></td><td><input class="count" type="number" min="1" step="1" size="4"></td>');

  const whole = (v) => /^\d+$/.test(String(v).trim());

  /** The request body and every problem found in the form (empty when it can be sent). */
  function read() {
    const errors = [], body = {};
    const size = form.size.value.trim(), reps = form.purchaser_reps.value.trim() || "0";
    if (!whole(size) || +size < 3) errors.push(t("评标委员会人数须为不少于 3 的整数"));
    if (!whole(reps)) errors.push(t("采购人代表人数须为整数"));
    else if (whole(size) && +reps * 3 > +size) errors.push(t("采购人代表不得超过委员会人数的三分之一"));
    const purchaser = form.purchaser.value.trim();
    if (!purchaser) errors.push(t("请填写采购人统一社会信用代码"));
    body.size = +size;
    body.purchaser_reps = +reps;
    body.purchaser = purchaser;
    if (form.complex.checked) body.complex = true;
    if (form.evaluation_date.value) body.evaluation_date = form.evaluation_date.value;
    body.specialties = {};
    for (const tr of $("specialties").querySelectorAll("tbody tr")) {
      const code = tr.querySelector(".code").value.trim(), count = tr.querySelector(".count").value.trim();
      if (!code) { errors.push(t("专业代码不能为空")); continue; }
      if (!whole(count) || +count < 1) errors.push(t("专业 {code} 的人数须为正整数", { code }));
      if (code in body.specialties) errors.push(t("专业 {code} 重复", { code }));
      body.specialties[code] = +count;
    }
    body.sites = [];
    for (const tr of $("sites").querySelectorAll("tbody tr")) {
      const site = tr.querySelector(".site").value.trim();
      const regions = tr.querySelector(".regions").value.split(/[,，\s]+/).filter(Boolean);
      const count = tr.querySelector(".count").value.trim();
      if (!/^[a-z0-9_-]{1,40}$/.test(site)) errors.push(t("场地编号“{site}”只能用小写字母、数字、_ 和 -", { site }));
      if (!regions.length || !regions.every((r) => /^\d+$/.test(r))) errors.push(t("场地 {site} 的地区代码须为数字", { site }));
      if (count && !whole(count)) errors.push(t("场地 {site} 的人数须为整数", { site }));
      body.sites.push({ site, role: tr.querySelector(".role").value, regions, ...(count ? { count: +count } : {}) });
    }
    return { body, errors };
  }

  const show = (errors) => pb.showErrors($("draw-errors"), errors);

  // The eligible count for the form's current values, asked again a moment after each change
  // (only the latest answer is shown); a form that does not check yet shows nothing.
  let asked = 0, timer = null;
  async function preview() {
    const { body, errors } = read(), mine = ++asked, out = $("draw-eligible");
    if (errors.length) {
      out.textContent = "";
      return;
    }
    try {
      const r = await pb.api("POST", `/api/tenders/${tender}/draw/preview`, body);
      if (mine !== asked) return;
      out.textContent = t("按当前条件可抽取的专家：{eligible} 人（需 {seats} 人）", r) + (r.enough ? "" : ` — ${r.problem}`);
      out.dataset.enough = String(r.enough);
    } catch (e) {
      if (mine === asked) out.textContent = e.message;
    }
  }
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  };
  form.addEventListener("input", later);
  form.addEventListener("click", (event) => {
    if (event.target.closest("button[type=button]")) later();
  });
  preview();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { body, errors } = read();
    show(errors);
    if (errors.length) return;
    $("request-draw").disabled = true;
    try {
      await pb.api("POST", `/api/tenders/${tender}/draw`, body);
      location.reload();
    } catch (e) {
      show([e.message]);
    } finally {
      $("request-draw").disabled = false;
    }
  });
})();
