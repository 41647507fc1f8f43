// Streaming bid sealing: the same container and the same age file as buildBidPayload + sealBytes
// (js/src/seal.js), made part by part from File slices so that memory stays at a few parts whatever
// the size of the documents. Used by the sealing worker (js/src/worker.js); runs in node too.
//
// The container's manifest holds every document's SHA-256 and comes first, so a bid is read twice:
// once to hash the documents (hashDocuments), once to seal (sealedParts).

import { sha256 } from "@noble/hashes/sha256";

import { beginSeal, CHUNK_SIZE, checkBid, containerHead, sealedSize } from "./seal.js";

/** Plaintext bytes sealed per part: a whole number of 64 KiB STREAM chunks. */
export const PART_SIZE = 8 << 20;
// Documents up to this size are hashed by WebCrypto in one call (fast, native; the slice is in
// memory only for that call); larger ones by @noble/hashes in parts.
const WHOLE_HASH_LIMIT = 32 << 20;
const TAG_SIZE = 16;

function hex(bytes) {
    let s = "";
    for (const b of bytes) s += b.toString(16).padStart(2, "0");
    return s;
}

async function readSlice(file, start, end) {
    const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
    if (bytes.length !== end - start) throw new Error(`${file.name} changed while it was being read`);
    return bytes;
}

/**
 * The lowercase hex SHA-256 of every file, read in parts. `onProgress(doneBytes, totalBytes)` after
 * each part; `signal.aborted` stops between parts (throws an AbortError). Documents up to
 * `wholeHashLimit` bytes go to WebCrypto whole, larger ones to @noble/hashes part by part.
 */
export async function hashDocuments(files, { onProgress = () => {}, signal = null, partSize = PART_SIZE, wholeHashLimit = WHOLE_HASH_LIMIT } = {}) {
    const list = Array.from(files);
    const total = list.reduce((n, f) => n + f.size, 0);
    const hashes = [];
    let done = 0;
    for (const file of list) {
        if (file.size <= wholeHashLimit) {
            const bytes = await readSlice(file, 0, file.size);
            hashes.push(hex(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes))));
            done += file.size;
            onProgress(done, total);
            continue;
        }
        const hash = sha256.create();
        for (let at = 0; at < file.size; at += partSize) {
            if (signal && signal.aborted) throw new DOMException("sealing was cancelled", "AbortError");
            const bytes = await readSlice(file, at, Math.min(file.size, at + partSize));
            hash.update(bytes);
            done += bytes.length;
            onProgress(done, total);
        }
        hashes.push(hex(hash.digest()));
    }
    return hashes;
}

/**
 * Plan the sealed bid: checks it as buildBidPayload does, makes the file key and header
 * (beginSeal), and returns `{ size, plainSize, parts() }`. `size` is the sealed file's length
 * (known before anything is encrypted, for the upload); `parts()` is an async iterator of
 * `{ bytes, offset, last, plainDone }`, the sealed file in order, `bytes` at most
 * PART_SIZE + tags (+ the header in the first part). `bytes` lives in one of two buffers used in
 * turn: it stays valid until the part after the next one is asked for (fetch copies a body when
 * called, so a part handed to fetch may be reused); copy it to keep it longer. The concatenation is byte for byte what
 * `sealBytes(chain, round, buildBidPayload(record, files))` would give with the same key and nonce.
 */
export async function planSeal(chain, round, record, files, hashes, { partSize = PART_SIZE } = {}) {
    if (partSize <= 0 || partSize % CHUNK_SIZE !== 0) throw new RangeError("partSize must be a multiple of 64 KiB");
    const list = checkBid(record, files);
    if (!Array.isArray(hashes) || hashes.length !== list.length || !hashes.every((h) => /^[0-9a-f]{64}$/.test(h))) {
        throw new TypeError("hashes must be one lowercase hex SHA-256 per document");
    }
    const manifest = containerHead(record, list, hashes);
    const plainSize = manifest.length + list.reduce((n, f) => n + f.size, 0);
    const { head, stream } = await beginSeal(chain, round);
    const size = sealedSize(head.length, plainSize);

    // The plaintext as pieces: the manifest bytes, then each file.
    const pieces = [{ bytes: manifest, size: manifest.length }, ...list.map((file) => ({ file, size: file.size }))];

    // Two plaintext and two output buffers, used in turn: no garbage per part, and the next part
    // is read (off this thread, by the browser) while this one is encrypted.
    const plainBuffers = [0, 1].map(() => new Uint8Array(Math.min(partSize, plainSize)));
    const outBuffers = [0, 1].map(() => new Uint8Array(head.length + sealedSize(0, Math.min(partSize, plainSize))));

    async function readPlain(start, end, buffer) {
        const out = buffer.subarray(0, end - start);
        let pos = 0;
        let at = 0;
        for (const piece of pieces) {
            const a = Math.max(start, pos);
            const b = Math.min(end, pos + piece.size);
            if (a < b) {
                const bytes = piece.bytes ? piece.bytes.subarray(a - pos, b - pos) : await readSlice(piece.file, a - pos, b - pos);
                out.set(bytes, at);
                at += bytes.length;
            }
            pos += piece.size;
            if (pos >= end) break;
        }
        return out;
    }

    async function* parts() {
        const chunks = Math.max(1, Math.ceil(plainSize / CHUNK_SIZE));
        let chunk = 0;
        let offset = 0;
        const read = (start, k) => {
            if (start >= plainSize) return null;
            const reading = readPlain(start, Math.min(plainSize, start + partSize), plainBuffers[k % 2]);
            reading.catch(() => {}); // rethrown where it is awaited; not "unhandled" if never awaited
            return reading;
        };
        let next = read(0, 0);
        try {
            for (let start = 0, k = 0; start < plainSize; start += partSize, k++) {
                const end = Math.min(plainSize, start + partSize);
                const plain = await next;
                next = read(end, k + 1);
                const first = start === 0;
                const n = Math.ceil(plain.length / CHUNK_SIZE);
                const out = outBuffers[k % 2].subarray(
                    0, (first ? head.length : 0) + plain.length + n * TAG_SIZE);
                let at = 0;
                if (first) {
                    out.set(head, 0);
                    at = head.length;
                }
                for (let i = 0; i < n; i++, chunk++) {
                    const input = plain.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
                    stream.encryptChunk(input, chunk === chunks - 1, out.subarray(at, at + input.length + TAG_SIZE));
                    at += input.length + TAG_SIZE;
                }
                plain.fill(0);
                const last = end === plainSize;
                yield { bytes: out, offset, last, plainDone: end };
                offset += out.length;
            }
        } finally {
            stream.clear();
            if (next) await next.catch(() => {}); // let a read still going end before wiping its buffer
            for (const buffer of plainBuffers) buffer.fill(0);
        }
        if (offset !== size) throw new Error("internal error: sealed size mismatch");
    }

    return { size, plainSize, parts };
}
