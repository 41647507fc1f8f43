// The sealing worker (web/static/vendor/pingbiao-seal-worker.js): hashes the documents, seals the
// bid part by part (js/src/stream.js) and uploads each part as soon as it is sealed, so the page's
// main thread only shows progress. Messages (docs/browser-sealing.md):
//
//   in:  {type: "hash", files}
//        {type: "seal", chain, round, record, files, hashes?, upload: {url, csrf} | null, maxBytes?}
//        {type: "bench-aead", files}          raw ChaCha20-Poly1305 over the files (benchmark)
//        {type: "bench-upload", url, size, csrf}  `size` bytes of zeros PUT in parts as the seal does (benchmark)
//   out: {type: "progress", phase: "hash" | "seal", done, total, elapsed}
//        {type: "upload", url}                the upload session (the page cancels it with DELETE)
//        {type: "hashed", hashes, elapsed}
//        {type: "done", size, plainSize, receipt?, hashSeconds, sealSeconds, uploadWaitSeconds, sealedBytes}
//        {type: "error", name, message, code?, size?}
//
// The page stops a job with worker.terminate() (which also aborts the worker's fetches) and then
// DELETEs the upload session.

import { ChaCha20Poly1305 } from "@stablelib/chacha20poly1305";

import { CHUNK_SIZE } from "./seal.js";
import { hashDocuments, PART_SIZE, planSeal } from "./stream.js";

const post = (message) => self.postMessage(message);
const now = () => performance.now();
const PROGRESS_MS = 100;

function progressReporter(phase, started) {
    let last = -Infinity;
    return (done, total) => {
        const t = now();
        if (done < total && t - last < PROGRESS_MS) return;
        last = t;
        post({ type: "progress", phase, done, total, elapsed: (t - started) / 1000 });
    };
}

async function answer(response) {
    let body = null;
    try {
        body = await response.json();
    } catch (e) {
        body = null;
    }
    if (!response.ok) {
        const error = new Error((body && body.error) || `HTTP ${response.status}`);
        error.name = "UploadError";
        error.status = response.status;
        throw error;
    }
    return body;
}

function headers(csrf, type) {
    return { "Content-Type": type, "X-CSRF-Token": csrf, Accept: "application/json" };
}

async function seal(job) {
    const started = now();
    let hashes = job.hashes;
    if (!hashes) hashes = await hashDocuments(job.files, { onProgress: progressReporter("hash", started) });
    const hashSeconds = (now() - started) / 1000;

    const plan = await planSeal(job.chain, job.round, job.record, job.files, hashes);
    if (job.maxBytes && plan.size > job.maxBytes) {
        post({ type: "error", name: "TooLarge", code: "too-large", size: plan.size, message: `sealed bid of ${plan.size} bytes is over the limit` });
        return;
    }
    const sealStart = now();
    const report = progressReporter("seal", sealStart);
    let session = null;
    if (job.upload) {
        const r = await fetch(job.upload.url, {
            method: "POST",
            headers: headers(job.upload.csrf, "application/json"),
            body: JSON.stringify({ size: plan.size }),
        });
        session = `${job.upload.url}/${encodeURIComponent((await answer(r)).upload)}`;
        post({ type: "upload", url: session });
    }
    // One part in flight while the next is sealed: the server takes parts in order.
    let pending = null;
    let receipt = null;
    let sealedBytes = 0; // without an upload (benchmark) the parts are only counted
    let uploadWait = 0; // time the sealing waited for the previous part to be taken by the server
    for await (const part of plan.parts()) {
        if (pending) {
            const t = now();
            await pending;
            uploadWait += now() - t;
        }
        if (session) {
            const url = `${session}?offset=${part.offset}${part.last ? "&last=1" : ""}`;
            // A Blob body, not the Uint8Array: Chromium uploads an ArrayBuffer body slowly and keeps
            // copies of it in the tab (measured: 256 MiB in 8 MiB parts, 124 s and a 710 MB renderer
            // against 3.8 s and 159 MB with Blobs). new Blob copies the part, so the buffer is free again.
            const body = new Blob([part.bytes]);
            pending = fetch(url, { method: "PUT", headers: headers(job.upload.csrf, "application/octet-stream"), body })
                .then(answer)
                .then((body) => {
                    if (part.last) receipt = body;
                });
        }
        sealedBytes += part.bytes.length;
        report(part.plainDone, plan.plainSize);
    }
    if (pending) {
        const t = now();
        await pending;
        uploadWait += now() - t;
    }
    const sealSeconds = (now() - sealStart) / 1000;
    post({ type: "done", size: plan.size, plainSize: plan.plainSize, receipt, hashSeconds, sealSeconds, sealedBytes, uploadWaitSeconds: uploadWait / 1000 });
}

// Raw AEAD, the benchmark's reference: the same library and chunking as the age payload, over the
// same bytes. Only the AEAD calls are timed (reading the file is not), so the reference is the
// cipher alone: no reading, no container, no STREAM object, no upload.
async function benchAead(job) {
    const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const nonce = new Uint8Array(12);
    let aead = 0;
    let bytes = 0;
    for (const file of job.files) {
        for (let at = 0; at < file.size; at += PART_SIZE) {
            const plain = new Uint8Array(await file.slice(at, Math.min(file.size, at + PART_SIZE)).arrayBuffer());
            const t = now();
            for (let i = 0; i < plain.length; i += CHUNK_SIZE) {
                new ChaCha20Poly1305(key).seal(nonce, plain.subarray(i, i + CHUNK_SIZE));
            }
            aead += now() - t;
            bytes += plain.length;
        }
    }
    post({ type: "done", aeadSeconds: aead / 1000, bytes });
}

// Upload alone, the benchmark's ceiling for seal + upload: the same parts (PART_SIZE + tags, as
// Blobs, one at a time) to a URL that drops them.
async function benchUpload(job) {
    const zeros = new Uint8Array(PART_SIZE + (PART_SIZE / CHUNK_SIZE) * 16);
    const started = now();
    for (let at = 0; at < job.size; at += zeros.length) {
        const body = new Blob([zeros.subarray(0, Math.min(zeros.length, job.size - at))]);
        await answer(await fetch(job.url, { method: "PUT", headers: headers(job.csrf, "application/octet-stream"), body }));
    }
    post({ type: "done", uploadSeconds: (now() - started) / 1000 });
}

self.onmessage = async ({ data }) => {
    try {
        if (data.type === "hash") {
            const started = now();
            const hashes = await hashDocuments(data.files, { onProgress: progressReporter("hash", started) });
            post({ type: "hashed", hashes, elapsed: (now() - started) / 1000 });
        } else if (data.type === "seal") {
            await seal(data);
        } else if (data.type === "bench-aead") {
            await benchAead(data);
        } else if (data.type === "bench-upload") {
            await benchUpload(data);
        } else {
            throw new Error(`unknown job ${data.type}`);
        }
    } catch (e) {
        post({ type: "error", name: e.name || "Error", message: e.message || String(e), status: e.status });
    }
};
