// Refreshes the timelock demo table from /api/demo/timelock every second.
"use strict";
(function () {
  const tbody = document.querySelector("#bids tbody");
  async function refresh() {
    try {
      const res = await fetch("/api/demo/timelock");
      const data = await res.json();
      data.bids.forEach((b, i) => {
        const row = tbody.rows[i];
        const left = Math.max(0, Math.round(b.opens_at - Date.now() / 1000));
        row.querySelector(".countdown").textContent = left > 0 ? left + " s" : "—";
        row.querySelector(".status").textContent = b.opened ? t("已开启") : b.error ? t("开启失败") : t("密封中");
        row.querySelector(".record").textContent = b.opened || b.error || (t("密文") + " " + b.sealed_bytes + " bytes");
        row.classList.toggle("opened", !!b.opened);
      });
    } catch (e) { /* the next tick retries */ }
  }
  setInterval(refresh, 1000);
  refresh();
})();
