// The page's side of the sealing worker (js/src/worker.js): start a job, get its progress, cancel it.
// Nothing heavy runs here: the worker reads, hashes, seals and uploads.

/** Raised (`e.name === "SealCancelled"`) by a job's `done` when it was cancelled. */
export class SealCancelled extends Error {
    constructor() {
        super("sealing was cancelled");
        this.name = "SealCancelled";
    }
}

function start(workerUrl, message, onMessage) {
    const worker = new Worker(workerUrl);
    let settle = null;
    const done = new Promise((resolve, reject) => {
        settle = { resolve, reject };
    });
    let finished = false;
    const finish = (how, value) => {
        if (finished) return;
        finished = true;
        worker.terminate();
        how(value);
    };
    worker.onmessage = ({ data }) => {
        if (finished) return;
        if (data.type === "error") {
            const error = new Error(data.message);
            error.name = data.name;
            if (data.code) error.code = data.code;
            if (data.size) error.size = data.size;
            if (data.status) error.status = data.status;
            finish(settle.reject, error);
        } else if (data.type === "done" || data.type === "hashed") {
            finish(settle.resolve, data);
        } else {
            onMessage(data);
        }
    };
    worker.onerror = (event) => {
        event.preventDefault();
        finish(settle.reject, new Error(event.message || "the sealing worker failed"));
    };
    worker.postMessage(message);
    return { done, stop: () => finish(settle.reject, new SealCancelled()), isFinished: () => finished };
}

/**
 * Hash `files` in a worker. Returns `{ done, cancel }`; `done` resolves to `{ hashes, elapsed }`.
 * `onProgress({phase: "hash", done, total, elapsed})`.
 */
export function hashInWorker(workerUrl, files, { onProgress = () => {} } = {}) {
    const job = start(workerUrl, { type: "hash", files: Array.from(files) }, (m) => m.type === "progress" && onProgress(m));
    return { done: job.done, cancel: async () => job.stop() };
}

/**
 * Seal a bid in a worker and upload it in parts as it is sealed (web/api/bids.py, the upload
 * session under `uploadUrl` + "/uploads"). Returns `{ done, cancel }`: `done` resolves to the
 * worker's `done` message (`receipt` is the server's answer to the last part); `cancel()` stops the
 * worker and its fetches, then deletes the upload session so nothing of it is kept, and resolves
 * when the server has answered. `uploadUrl: null` seals without uploading (the benchmark).
 */
export function sealInWorker(workerUrl, { chain, round, record, files, hashes = null, uploadUrl = null, csrf = "", maxBytes = 0, onProgress = () => {} }) {
    let session = null;
    const message = {
        type: "seal", chain, round, record, files: Array.from(files), hashes, maxBytes,
        upload: uploadUrl ? { url: `${uploadUrl}/uploads`, csrf } : null,
    };
    const job = start(workerUrl, message, (m) => {
        if (m.type === "upload") session = m.url;
        else if (m.type === "progress") onProgress(m);
    });
    async function cancel() {
        if (job.isFinished()) return { cancelled: false };
        job.stop();
        if (!session) return { cancelled: true };
        const r = await fetch(session, { method: "DELETE", headers: { "X-CSRF-Token": csrf, Accept: "application/json" } });
        // 404: the server had already dropped it (the aborted part ended it). 409: the last part was
        // in, the bid is being stored — the page shows what the server holds.
        return { cancelled: r.status !== 409, status: r.status };
    }
    return { done: job.done, cancel };
}
