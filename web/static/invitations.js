// An expert's invitations (我的评标邀请): accept, or decline with a ground, a reason and the
// evidence (回避申请 / 无法到场, docs/experts.md); both are logged and the page reloads.
"use strict";
(() => {
  const table = document.getElementById("invitations");
  if (!table) return;
  const url = (row, act) => `/api/experts/me/invitations/${row.dataset.tender}/${act}`;
  table.addEventListener("click", async (ev) => {
    if (ev.target.dataset.act !== "accept") return;
    const row = ev.target.closest("tr");
    try {
      await pb.api("POST", url(row, "accept"), {});
      location.reload();
    } catch (e) {
      row.querySelector(".status").textContent = e.message;
    }
  });
  for (const form of table.querySelectorAll(".decline-form")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const row = form.closest("tr"), note = form.querySelector(".tp-message");
      const body = { ground: form.ground.value, reason: form.reason.value.trim(), evidence: form.evidence.value.trim() };
      const missing = [];
      if (!body.reason) missing.push(t("请填写具体原因"));
      if (!body.evidence) missing.push(t("请填写证明材料"));
      if (missing.length) { note.textContent = missing.join("；"); note.dataset.kind = "error"; return; }
      try {
        await pb.api("POST", url(row, "decline"), body);
        location.reload();
      } catch (e) {
        note.textContent = e.message;
        note.dataset.kind = "error";
      }
    });
  }
})();
