// window.pingbiao (web/static/vendor/pingbiao-seal.js): sealing in the page (seal.js), streamed
// sealing (stream.js, what the worker runs) and the page's side of the sealing worker
// (worker-client.js). docs/browser-sealing.md describes them.

export * from "./seal.js";
export * from "./stream.js";
export * from "./worker-client.js";
