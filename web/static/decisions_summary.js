// The session page's short list of the committee's decisions on bids (评审决定): each bid with a
// correction, a price query or an invalidity, in one line, read from the session the page shows.
// The full list and the leader's forms are on /evaluation/{id}/decisions (web/static/decisions.js).
"use strict";

(function () {
  const pb = window.pb;
  const T = pb.pageData().tender_id;
  const L = JSON.parse(document.getElementById("decision-labels").textContent);
  const box = document.getElementById("decisions-box");
  const list = document.getElementById("decisions-summary");
  const label = (set, code) => (L[set] || {})[code] || code;

  function line(b) {
    const parts = [];
    if (b.correction) {
      parts.push(t("算术修正后 {amount}", { amount: pb.amount(b.correction.corrected_fen) }) + ` · ${label("correction_status", b.correction.status)}`);
    }
    if (b.low_price) {
      parts.push(`${t("异常低价")} · ${label("low_price_status", b.low_price.status)} · ${t("说明截止：{when}", { when: pb.whenUs(b.low_price.due_us) })}`);
    }
    if (b.invalid) {
      const ground = b.invalid_ground ? label("invalid_ground", b.invalid_ground) : "";
      parts.push(`${t("无效")} · ${ground && b.invalid_reason ? `${pb.pair(ground, b.invalid_reason)}` : b.invalid}`);
    }
    return parts.length ? `${pb.pair(b.bidder_name, parts.join(t("；")))}` : null;
  }

  async function refresh() {
    try {
      const view = await pb.api("GET", `/api/evaluation/${T}`);
      const lines = view.bids.map(line).filter(Boolean);
      list.replaceChildren(...lines.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
      box.hidden = !lines.length;
    } catch (e) {
      box.hidden = true;  // not started, or not this reader's: the page itself says why
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
