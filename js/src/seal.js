// pingbiao browser sealing: a bid is encrypted in the bidder's browser to a drand round with
// tlock-js, so the server only ever receives ciphertext. docs/browser-sealing.md describes the API,
// the bid container and the size limits; scripts/build-js bundles this module into
// web/static/vendor/pingbiao-seal.js, which exposes it as `window.pingbiao`.
//
// Output is a *binary* age v1 file (what `pingbiao seal` writes without --armor). tlock-js's
// `timelockEncrypt` only returns armor, built through latin1 strings that the browser `buffer`
// polyfill makes one character at a time, which is slow and caps the size far below what a bid
// needs. So the file is assembled here from tlock-js's own parts: its timelock recipient stanza
// (the IBE encryption of the file key), its header writer and header MAC, and its STREAM cipher.
// Only the concatenation and the payload-key HKDF (WebCrypto) are ours; tlock-js's
// `encryptedPayload` does the same HKDF but is not exported.

import { header as ageHeader } from "tlock-js/age/age-reader-writer.js";
import { STREAM } from "tlock-js/age/stream-cipher.js";
import { unpaddedBase64 } from "tlock-js/age/utils.js";
import { createMacKey } from "tlock-js/age/utils-crypto.js";
import { createTimelockEncrypter } from "tlock-js/drand/timelock-encrypter.js";
import { LIB_VERSION } from "tlock-js/version.js";

export const TLOCK_JS_VERSION = LIB_VERSION;
export const CHUNK_SIZE = 64 * 1024;
export { STREAM };

const AGE_VERSION = "age-encryption.org/v1";
const FILE_KEY_SIZE = 16;
const NONCE_SIZE = 16;
const TAG_SIZE = 16;
const TIMELOCK_SCHEMES = new Set(["pedersen-bls-unchained", "bls-unchained-on-g1", "bls-unchained-g1-rfc9380"]);
const MAX_ROUND = 2n ** 64n - 1n;

/** A chain info document that is malformed, unusable for timelock, or not the pinned chain. */
export class ChainError extends Error {
    constructor(message) {
        super(message);
        this.name = "ChainError";
    }
}

const encoder = new TextEncoder();

function subtle() {
    const s = globalThis.crypto && globalThis.crypto.subtle;
    if (!s) throw new Error("sealing needs WebCrypto: open the page over https (or http://localhost)");
    return s;
}

function hexToBytes(hex, what) {
    if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
        throw new ChainError(`chain info: ${what} is not hex`);
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
}

function bytesToHex(bytes) {
    let s = "";
    for (const b of bytes) s += b.toString(16).padStart(2, "0");
    return s;
}

function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
        out.set(p, at);
        at += p.length;
    }
    return out;
}

/** SHA-256 of `bytes` as 64 lowercase hex characters (WebCrypto). */
export async function sha256Hex(bytes) {
    return bytesToHex(new Uint8Array(await subtle().digest("SHA-256", bytes)));
}

/**
 * Check a drand v1 `/info` document and return it normalised (frozen). The `hash` must be the hash
 * of the other fields (drand `common/chain/info.go`: SHA-256 of period u32be ‖ genesis i64be ‖
 * public key ‖ group hash ‖ beacon id unless "default"), so a server cannot pair the pinned
 * hash with a key of its own. Throws ChainError.
 */
export async function checkChainInfo(info) {
    if (info === null || typeof info !== "object") throw new ChainError("chain info is not an object");
    const period = info.period;
    const genesis = info.genesis_time;
    if (!Number.isSafeInteger(period) || period <= 0 || period >= 2 ** 32) {
        throw new ChainError("chain info: period must be a positive whole number of seconds");
    }
    if (!Number.isSafeInteger(genesis)) throw new ChainError("chain info: genesis_time must be a whole number");
    const publicKey = hexToBytes(info.public_key, "public_key");
    const groupHash = hexToBytes(info.groupHash ?? "", "groupHash");
    const hash = typeof info.hash === "string" ? info.hash.toLowerCase() : "";
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new ChainError("chain info: hash must be 64 hex characters");
    const schemeID = info.schemeID || "pedersen-bls-chained";
    if (!TIMELOCK_SCHEMES.has(schemeID)) {
        throw new ChainError(`chain ${hash.slice(0, 16)}… uses scheme ${schemeID}, which cannot be used for timelock`);
    }
    const beaconID = (info.metadata && info.metadata.beaconID) || "default";
    const fixed = new Uint8Array(12);
    const view = new DataView(fixed.buffer);
    view.setUint32(0, period, false);
    view.setBigInt64(4, BigInt(genesis), false);
    const parts = [fixed, publicKey, groupHash];
    if (beaconID !== "default") parts.push(encoder.encode(beaconID));
    const computed = await sha256Hex(concat(parts));
    if (computed !== hash) throw new ChainError(`chain info does not match its hash ${hash.slice(0, 16)}…`);
    return Object.freeze({
        public_key: bytesToHex(publicKey),
        period,
        genesis_time: genesis,
        hash,
        groupHash: bytesToHex(groupHash),
        schemeID,
        metadata: Object.freeze({ beaconID }),
    });
}

/**
 * Fetch `<baseUrl>/<chainHash>/info` from a drand HTTP API (the platform's `/beacon`, or a drand
 * relay) and return it only if it is the chain pinned by `chainHash` and matches its own hash.
 * Throws ChainError otherwise, and Error when the beacon cannot be reached.
 */
export async function chainFromBeacon(baseUrl, chainHash, { fetchImpl = globalThis.fetch } = {}) {
    const pinned = String(chainHash || "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(pinned)) throw new ChainError("the pinned chain hash must be 64 hex characters");
    const url = `${String(baseUrl).replace(/\/+$/, "")}/${pinned}/info`;
    const response = await fetchImpl(url, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(`beacon ${url} answered HTTP ${response.status}`);
    const info = await checkChainInfo(await response.json());
    if (info.hash !== pinned) {
        throw new ChainError(`beacon serves chain ${info.hash.slice(0, 16)}…, not the pinned chain ${pinned.slice(0, 16)}…`);
    }
    return info;
}

/**
 * The first round whose time is at or after `unixSeconds` (time(round) = genesis + (round-1) *
 * period): sealing to it means "cannot be opened before that time". Same as Python's
 * `ChainInfo.round_not_before`; drand-client's `roundAt` is the *latest* round at a time instead.
 */
export function roundForTime(chain, unixSeconds) {
    if (!Number.isFinite(unixSeconds)) throw new RangeError("unixSeconds must be a finite number");
    if (unixSeconds <= chain.genesis_time) return 1;
    return Math.ceil((unixSeconds - chain.genesis_time) / chain.period) + 1;
}

/** Unix time (seconds) at which `round` of `chain` is produced. */
export function timeOfRound(chain, round) {
    return chain.genesis_time + (round - 1) * chain.period;
}

async function payloadKey(fileKey, nonce) {
    const s = subtle();
    const ikm = await s.importKey("raw", fileKey, "HKDF", false, ["deriveBits"]);
    const bits = await s.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: nonce, info: encoder.encode("payload") },
        ikm,
        256,
    );
    return new Uint8Array(bits);
}

// tlock-js's STREAM.seal, writing each sealed chunk straight into `out` at `at` instead of into a
// buffer of its own that would then be copied (one whole copy less at the peak). One difference:
// an empty plaintext gets one empty final chunk (a lone 16-byte tag) as age requires; tlock-js
// 0.9.0 writes no chunk at all, which age and pingbiao's opener reject as truncated.
function streamSealInto(plaintext, stream, out, at) {
    const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK_SIZE));
    for (let i = 0; i < chunks; i++) {
        const input = plaintext.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
        stream.encryptChunk(input, i === chunks - 1, out.subarray(at, at + input.length + TAG_SIZE));
        at += input.length + TAG_SIZE;
    }
    stream.clear();
    return at;
}

function sealedPayloadSize(n) {
    return n + TAG_SIZE * Math.max(1, Math.ceil(n / CHUNK_SIZE));
}

/**
 * The start of a sealed file and the payload cipher: checks `chain` against its hash and `round`,
 * makes a random file key, its `tlock` stanza, the header and its MAC, a random nonce and the
 * payload key. Returns `{ head, stream }`: `head` is the header, MAC line and nonce (the bytes
 * before the payload), `stream` tlock-js's STREAM under the payload key (call `clear()` when done).
 * The file key is wiped before this returns.
 */
export async function beginSeal(chain, round) {
    const info = await checkChainInfo(chain);
    if (!Number.isSafeInteger(round) || round < 1 || BigInt(round) > MAX_ROUND) {
        throw new RangeError(`round must be a whole number >= 1, got ${round}`);
    }
    const client = { chain: () => ({ info: async () => info }) };
    const fileKey = globalThis.crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE));
    const recipients = await createTimelockEncrypter(client, round)(fileKey);
    const headerText = ageHeader({ version: AGE_VERSION, recipients });
    const mac = unpaddedBase64(createMacKey(fileKey, "header", headerText));
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const key = await payloadKey(fileKey, nonce);
    fileKey.fill(0);
    const line = encoder.encode(`${headerText} ${mac}\n`);
    const head = new Uint8Array(line.length + NONCE_SIZE);
    head.set(line, 0);
    head.set(nonce, line.length);
    const stream = new STREAM(key);
    key.fill(0);
    return { head, stream };
}

/** Bytes of the sealed file for a plaintext of `plaintextSize` bytes after a head of `headSize`. */
export function sealedSize(headSize, plaintextSize) {
    return headSize + sealedPayloadSize(plaintextSize);
}

/**
 * Seal `bytes` to `round` of `chain` (a checked chain info object, see chainFromBeacon) and resolve
 * to the binary age file: the header with one `tlock` stanza, its MAC, a 16-byte nonce and the
 * STREAM payload. The chain info is re-checked against its hash first.
 */
export async function sealBytes(chain, round, bytes) {
    await checkChainInfo(chain);
    if (!(bytes instanceof Uint8Array)) throw new TypeError("bytes must be a Uint8Array");
    const { head, stream } = await beginSeal(chain, round);
    const out = new Uint8Array(sealedSize(head.length, bytes.length));
    out.set(head, 0);
    const end = streamSealInto(bytes, stream, out, head.length);
    if (end !== out.length) throw new Error("internal error: sealed size mismatch");
    return out;
}

// --- the bid container --------------------------------------------------------------------
//
// evaluation/tenders/bid_container.py reads it at the opening; docs/tenders.md specifies it:
//
//   pingbiao-bid/1\n
//   {"record":{…},"documents":[{"name":"…","size":N,"sha256":"…"},…]}\n
//   <the bytes of document 1><the bytes of document 2>…
//
// The manifest line is one line of UTF-8 JSON of at most 1 MiB; documents follow raw, in order.

const CONTAINER_MAGIC = "pingbiao-bid/1\n";
const MAX_MANIFEST = 1 << 20;
const MAX_DOCUMENTS = 200;
const MAX_NAME = 255;

function checkDocument(file) {
    if (!file || typeof file.arrayBuffer !== "function" || !Number.isSafeInteger(file.size)) {
        throw new TypeError("documents must be File objects");
    }
    const name = file.name;
    if (typeof name !== "string" || name === "" || [...name].length > MAX_NAME || /[\\/]/.test(name)) {
        throw new TypeError(`document name ${JSON.stringify(name)} must be 1 to ${MAX_NAME} characters without slashes`);
    }
}

/**
 * The bid plaintext (container version 1): the magic line `pingbiao-bid/1`, the manifest
 * `{"record":{…},"documents":[{"name","size","sha256"},…]}` on one line, then every file's bytes
 * in order. `record` holds the opening-record fields as given; `sha256` is lowercase hex. Refuses
 * (before reading any file) what the opening would refuse: more than 200 documents, a name with a
 * slash or over 255 characters, a manifest over 1 MiB. One buffer sized up front; besides it, one
 * file's bytes are in memory at a time.
 */
export async function buildBidPayload(record, files = []) {
    const list = checkBid(record, files);
    const sizing = containerHead(record, list, list.map(() => "0".repeat(64)));
    const out = new Uint8Array(sizing.length + list.reduce((n, file) => n + file.size, 0));
    const hashes = [];
    let at = sizing.length;
    for (const file of list) {
        const bytes = new Uint8Array(await file.arrayBuffer());
        if (bytes.length !== file.size) throw new Error(`${file.name} changed while it was being read`);
        out.set(bytes, at);
        hashes.push(await sha256Hex(out.subarray(at, at + bytes.length)));
        at += bytes.length;
    }
    const head = containerHead(record, list, hashes);
    if (head.length !== sizing.length) throw new Error("internal error: manifest size changed");
    out.set(head, 0);
    return out;
}

/**
 * Check a bid before any file is read (what the opening would refuse: more than 200 documents, a
 * name with a slash or over 255 characters, a manifest over 1 MiB) and return its files as an array.
 */
export function checkBid(record, files = []) {
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
        throw new TypeError("record must be a plain object of opening-record fields");
    }
    const list = Array.from(files);
    if (list.length > MAX_DOCUMENTS) throw new RangeError(`a bid holds at most ${MAX_DOCUMENTS} documents`);
    list.forEach(checkDocument);
    // A SHA-256 in hex is always 64 characters, so the manifest's length is known before any file is read.
    const sizing = containerHead(record, list, list.map(() => "0".repeat(64)));
    if (sizing.length - CONTAINER_MAGIC.length - 1 > MAX_MANIFEST) {
        throw new RangeError("the bid manifest (record and document names) is larger than 1 MiB");
    }
    return list;
}

/** The container's magic line and manifest line for `files` (their names and sizes) and `hashes`. */
export function containerHead(record, files, hashes) {
    const manifest = {
        record,
        documents: files.map((file, i) => ({ name: file.name, size: file.size, sha256: hashes[i] })),
    };
    return encoder.encode(CONTAINER_MAGIC + JSON.stringify(manifest) + "\n");
}

/** Convenience for a bid page: build the container and seal it to `round`. */
export async function sealBid(chain, round, record, files = []) {
    return sealBytes(chain, round, await buildBidPayload(record, files));
}
