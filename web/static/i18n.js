// Translations for the pages' scripts (web/i18n/__init__.py): the page embeds the catalogue
// (Chinese → English) only when the reader chose English; t() returns the Chinese text otherwise.
// Placeholders are filled from the second argument: {n} from { n: 3 }.
"use strict";
(function () {
  let catalogue = {};
  try {
    catalogue = JSON.parse(document.getElementById("pb-i18n").textContent || "{}");
  } catch (e) {
    catalogue = {};
  }
  window.t = function t(text, values) {
    let out = Object.prototype.hasOwnProperty.call(catalogue, text) ? catalogue[text] : text;
    if (values) out = out.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
    return out;
  };
  window.pbLang = document.documentElement.lang === "en" ? "en" : "zh";
  /** An opening-record field's name for this reader (the agency gives one per language). */
  window.fieldLabel = (f) => (window.pbLang === "en" && f.label_en ? f.label_en : f.label_zh || f.key);
})();
