// Amounts as the trade writes them, for the pages of the committee's decisions (评审决定) and the
// bidder's answers (评审询问): figures with separators, the amount in capital numerals (大写金额),
// and a bid's corrections, price queries and validity in words. Exact: fen as BigInt, no floats.
"use strict";

(function () {
  const pb = window.pb;
  const DIGITS = "\u96f6\u58f9\u8d30\u53c1\u8086\u4f0d\u9646\u67d2\u634c\u7396";
  const SMALL = ["", "\u62fe", "\u4f70", "\u4edf"];

  /** fen (number, string or BigInt) → "1,268,000.50" yuan. */
  pb.yuan = (fen) => {
    const f = BigInt(fen);
    const whole = (f / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `${whole}.${(f % 100n).toString().padStart(2, "0")}`;
  };

  /** fen → 大写金额, e.g. 10500000 → 壹拾万零伍仟元整. */
  pb.capital = (fen) => {
    const f = BigInt(fen);
    const yuan = (f / 100n).toString();
    const jiao = Number((f / 10n) % 10n), cent = Number(f % 10n);
    let out = "", zero = false;
    for (let i = 0; i < yuan.length; i++) {
      const p = yuan.length - 1 - i, d = Number(yuan[i]);
      if (d === 0) zero = out !== "";
      else {
        if (zero) out += "\u96f6";
        zero = false;
        out += DIGITS[d] + SMALL[p % 4];
      }
      if (p === 4 && /[1-9]/.test(yuan.slice(Math.max(0, yuan.length - 8), yuan.length - 4))) out += "\u4e07";
      if (p === 8 && /[1-9]/.test(yuan.slice(0, yuan.length - 8))) out += "\u4ebf";
      if (p === 12 && /[1-9]/.test(yuan.slice(0, yuan.length - 12))) out += "\u4e07";
    }
    if (out) out += "\u5143";
    if (!jiao && !cent) return (out || "\u96f6\u5143") + "\u6574";
    if (jiao) out += DIGITS[jiao] + "\u89d2";
    else if (out) out += "\u96f6";
    if (cent) out += DIGITS[cent] + "\u5206";
    return out;
  };

  /** 大写金额 → fen, as the server reads it (evaluation/session/rules.py); null when it is not one. */
  pb.capitalToFen = (text) => {
    let s = String(text || "").trim().replace(/\u5706/g, "\u5143").replace(/^\u4eba\u6c11\u5e01/, "").replace(/[\u6574\u6b63]+$/, "");
    if (!s || s.length > 60) return null;
    let yuanPart = "", rest = s;
    if (s.includes("\u5143")) [yuanPart, rest] = [s.slice(0, s.indexOf("\u5143")), s.slice(s.indexOf("\u5143") + 1)];
    else if (!/[\u89d2\u5206]$/.test(s)) return null;
    let total = 0n, section = 0n, digit = null;
    for (const ch of yuanPart) {
      const d = DIGITS.indexOf(ch), u = SMALL.indexOf(ch);
      if (d >= 0) digit = BigInt(d);
      else if (u > 0) { section += (digit === null ? 1n : digit) * 10n ** BigInt(u); digit = null; }
      else if (ch === "\u4ebf") { total = (total + section + (digit || 0n)) * 100000000n; section = 0n; digit = null; }
      else if (ch === "\u4e07") { total += (section + (digit || 0n)) * 10000n; section = 0n; digit = null; }
      else return null;
    }
    let fen = (total + section + (digit || 0n)) * 100n;
    for (const [unit, value] of [["\u89d2", 10n], ["\u5206", 1n]]) {
      const at = rest.indexOf(unit);
      if (at < 0) continue;
      const head = rest.slice(0, at).replace(/^\u96f6+/, "");
      if (head.length !== 1 || DIGITS.indexOf(head) < 0) return null;
      fen += BigInt(DIGITS.indexOf(head)) * value;
      rest = rest.slice(at + 1);
    }
    if (rest.replace(/\u96f6/g, "")) return null;
    return fen > 0n ? fen : null;
  };

  /** An amount as a person reads it: "105,000.00 元（壹拾万零伍仟元整）". */
  pb.amount = (fen) => t("{yuan} 元（{words}）", { yuan: pb.yuan(fen), words: pb.capital(fen) });

  /** A label and its value: "理由：…" ("Reason: …" in English). */
  pb.pair = (label, text) => t("{label}：{text}", { label, text });

  /** A time in microseconds on the installation's clock, with its zone (北京时间). */
  pb.whenUs = (us) => `${pb.localTime(Number(us) / 1e6)} ${pb.zoneName(Number(us) / 1e6)}`;

  /** The price read at the opening: before any correction. */
  pb.openedFen = (b) => (b.correction ? b.correction.original_fen : b.price_fen);

  /** Show `errors` ({field name: line}) under the fields of `form`; returns how many there are. */
  pb.fieldErrors = (form, errors) => {
    form.querySelectorAll(".tp-field-error").forEach((el) => { el.textContent = errors[el.dataset.for] || ""; });
    return Object.keys(errors).length;
  };
})();
