// Verify a bid receipt in the browser (docs/audit-log.md, "Checkpoints and receipts"):
//  1. the checkpoint is a C2SP signed note: verify its Ed25519 signature with the log's verifier
//     key (`<name>+<hex key id>+<base64(0x01 ‖ public key)>`, from /api/audit/vkey);
//  2. the RFC 9162 inclusion proof of SHA-256(0x00 ‖ leaf) at the entry's index in a tree of
//     `tree_size` leaves must lead to the checkpoint's root, and tree_size must be its size;
//  3. the leaf must be the entry shown (index, kind) and name the bid's ciphertext hash.
// window.pbReceipt.verify(receipt, vkeyText, expectSha256) → {ok, message, origin, size, root}.
"use strict";

(function () {
  const enc = new TextEncoder();

  const b64 = (s) => Uint8Array.from(atob(s.trim()), (c) => c.charCodeAt(0));
  const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

  function parseVkey(text) {
    const line = text.trim();
    // Names and key ids contain no "+"; base64 may (golang.org/x/mod/sumdb/note).
    const first = line.indexOf("+");
    const second = line.indexOf("+", first + 1);
    if (first <= 0 || second <= first) throw new Error("verifier key is malformed");
    const name = line.slice(0, first);
    const keyId = line.slice(first + 1, second);
    const data = b64(line.slice(second + 1));
    if (!/^[0-9a-f]{8}$/.test(keyId) || data.length !== 33 || data[0] !== 1) throw new Error("verifier key is not an Ed25519 key");
    return { name, keyId, publicKey: data.slice(1) };
  }

  async function openNote(note, vkey) {
    const split = note.indexOf("\n\n");
    if (split < 0) throw new Error("checkpoint is not a signed note");
    const text = note.slice(0, split + 1);
    const id = await sha256(concat(enc.encode(vkey.name + "\n"), new Uint8Array([1]), vkey.publicKey));
    if (hex(id.slice(0, 4)) !== vkey.keyId) throw new Error("verifier key id does not match its name and key");
    const key = await crypto.subtle.importKey("raw", vkey.publicKey, { name: "Ed25519" }, false, ["verify"]);
    for (const line of note.slice(split + 2).split("\n")) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== vkey.name) continue;
      const sig = b64(m[2]);
      if (sig.length !== 68 || hex(sig.slice(0, 4)) !== vkey.keyId) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(text))) {
        const lines = text.split("\n");
        return { origin: lines[0], size: Number(lines[1]), root: b64(lines[2]) };
      }
      throw new Error("checkpoint signature does not verify with the log's key");
    }
    throw new Error(`checkpoint carries no signature by ${vkey.name}`);
  }

  // RFC 9162 section 2.1.3.2.
  async function rootFromProof(index, size, leafHash, proof) {
    if (index >= size) throw new Error(`entry ${index} is not in a tree of ${size}`);
    let fn = BigInt(index);
    let sn = BigInt(size - 1);
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0n) throw new Error("inclusion proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), p, r));
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("inclusion proof is too short");
    return r;
  }

  async function verify(receipt, vkeyText, expectSha256) {
    const vkey = parseVkey(vkeyText);
    const checkpoint = await openNote(receipt.checkpoint, vkey);
    if (checkpoint.origin !== vkey.name) throw new Error("checkpoint origin is not the key's name");
    if (checkpoint.size !== receipt.tree_size) throw new Error("proof is for another tree size than the checkpoint's");
    const entry = receipt.entry;
    const leaf = b64(entry.leaf);
    const fields = JSON.parse(new TextDecoder().decode(leaf));
    if (fields.index !== entry.index || fields.kind !== entry.kind) throw new Error("the leaf is not the entry shown");
    if (expectSha256 && !new TextDecoder().decode(leaf).includes(expectSha256)) throw new Error("the entry does not name this bid's hash");
    const leafHash = await sha256(concat(new Uint8Array([0]), leaf));
    const root = await rootFromProof(entry.index, receipt.tree_size, leafHash, receipt.proof.map(b64));
    if (!equal(root, checkpoint.root)) throw new Error("inclusion proof does not lead to the checkpoint's root");
    return {
      ok: true,
      origin: checkpoint.origin,
      size: checkpoint.size,
      root: hex(checkpoint.root),
      message: t("已在本浏览器验证：第 {index} 条在 {origin} 签名的 {size} 条日志中（根 {root}…）", { index: entry.index, size: checkpoint.size, origin: checkpoint.origin, root: hex(checkpoint.root).slice(0, 16) }),
    };
  }

  window.pbReceipt = { verify, parseVkey, rootFromProof };
})();
