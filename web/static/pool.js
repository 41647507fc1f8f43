// The expert pool pages (专家库): the CSV import with its report row by row, pausing and
// resuming an expert, and the add/edit form with every error shown at once (docs/experts.md).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const RESULTS = { added: t("新增"), updated: t("更新"), rejected: t("拒绝") };

  /** POST to the API; resolves to { ok, status, body } (body null when it is not JSON). */
  async function post(url, body, contentType) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", body,
      headers: { Accept: "application/json", "X-CSRF-Token": csrf(), "Content-Type": contentType },
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return { ok: response.ok, status: response.status, body: data };
  }
  const failure = (r) => (r.body && r.body.error) || t("操作失败（HTTP {status}）", { status: r.status });

  const importButton = $("csv-import");
  if (importButton) {
    importButton.addEventListener("click", async () => {
      const file = $("csv-file").files[0], error = $("import-error");
      error.hidden = true;
      $("import-report").hidden = true;
      if (!file) {
        error.textContent = t("请先选择 CSV 文件");
        error.hidden = false;
        return;
      }
      importButton.disabled = true;
      try {
        const r = await post("/api/experts/import", file, "text/csv");
        if (!r.ok) {
          error.textContent = failure(r);
          error.hidden = false;
          return;
        }
        $("import-summary").textContent = t("新增 {added} 人，更新 {updated} 人，拒绝 {rejected} 行", r.body);
        $("import-rows").querySelector("tbody").replaceChildren(...r.body.rows.map((row) => {
          const tr = document.createElement("tr");
          tr.dataset.result = row.result;
          for (const text of [row.line, row.name, RESULTS[row.result] || row.result, row.reason]) {
            tr.append(Object.assign(document.createElement("td"), { textContent: String(text) }));
          }
          return tr;
        }));
        $("import-report").hidden = false;
        if (r.body.added || r.body.updated) await refreshPool();
      } finally {
        importButton.disabled = false;
      }
    });
  }

  // Pause/resume buttons of the pool table; bound again when the table is replaced after an import.
  function bindPool() {
    for (const button of document.querySelectorAll("#pool .set-active")) {
      button.addEventListener("click", async () => {
        const code = button.closest("tr").dataset.code;
        button.disabled = true;
        const r = await post(`/api/experts/${encodeURIComponent(code)}/${button.dataset.action}`, undefined, "application/json");
        if (r.ok) location.reload();
        else {
          button.disabled = false;
          alert(failure(r));
        }
      });
    }
  }
  bindPool();

  // The pool table as the server renders it now, so imported experts show without a reload.
  async function refreshPool() {
    const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("pool");
    const current = $("pool");
    if (fresh && current) {
      current.replaceWith(document.adoptNode(fresh));
      bindPool();
    }
  }

  const form = $("expert-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const input of form.querySelectorAll("input[name]")) body[input.name] = input.value;
      for (const span of form.querySelectorAll(".field-error")) span.textContent = "";
      const box = $("form-errors");
      box.hidden = true;
      const code = form.dataset.code;
      $("save-expert").disabled = true;
      try {
        const r = await post(code ? `/api/experts/${encodeURIComponent(code)}` : "/api/experts", JSON.stringify(body), "application/json");
        if (r.ok) {
          location.href = "/experts";
          return;
        }
        const errors = (r.body && r.body.errors) || {};
        for (const [key, message] of Object.entries(errors)) {
          const span = form.querySelector(`.field-error[data-for="${key}"]`);
          if (span) span.textContent = message;
        }
        const messages = Object.keys(errors).length ? Object.values(errors) : [failure(r)];
        box.replaceChildren(...messages.map((m) => Object.assign(document.createElement("li"), { textContent: m })));
        box.hidden = false;
      } finally {
        $("save-expert").disabled = false;
      }
    });
  }
})();
