// Seal and open files with the reference tlock-js, offline, for pingbiao's interop tests.
//
//   node tlock.mjs seal --chain INFO.json --round N [--binary] [IN [OUT]]
//   node tlock.mjs open --chain INFO.json --signature HEX [IN [OUT]]
//   node tlock.mjs version
//
// INFO.json is a drand v1 `/info` document. No network is used: tlock-js gets a ChainClient
// that answers `chain().info()` from INFO.json and `get(round)` with the given signature
// (randomness = sha256(signature)); tlock-js still verifies that beacon against the chain's
// public key, as it does with a live client. IN and OUT default to stdin/stdout ("-").
//
// `seal` writes what timelockEncrypt returns, which is always armored; `--binary` strips the
// armor with tlock-js's own decoder. `open` passes the input bytes to timelockDecrypt as a
// latin1 string, so both armored and binary age files reach tlock-js unchanged.
// Exit status: 0 ok, 1 tlock-js refused (message on stderr), 2 bad usage.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

import { timelockDecrypt, timelockEncrypt } from "tlock-js";
import { decodeArmor } from "tlock-js/age/armor.js";

// tlock-js logs "beacon received: …" with console.log; keep stdout for the payload only.
console.log = (...args) => console.error(...args);

const require = createRequire(import.meta.url);
const TLOCK_JS_VERSION = require("tlock-js/package.json").version;

class UsageError extends Error {}

function parseArgs(argv) {
    const [command, ...rest] = argv;
    const options = { positional: [] };
    for (let i = 0; i < rest.length; i++) {
        const arg = rest[i];
        if (arg === "--binary") {
            options.binary = true;
        } else if (arg === "--chain" || arg === "--round" || arg === "--signature") {
            if (i + 1 >= rest.length) throw new UsageError(`${arg} needs a value`);
            options[arg.slice(2)] = rest[++i];
        } else if (arg.startsWith("--")) {
            throw new UsageError(`unknown option ${arg}`);
        } else {
            options.positional.push(arg);
        }
    }
    if (options.positional.length > 2) throw new UsageError("at most two files: IN and OUT");
    return { command, options };
}

function readInput(path) {
    return readFileSync(path === undefined || path === "-" ? 0 : path);
}

function writeOutput(path, data) {
    if (path === undefined || path === "-") {
        process.stdout.write(data);
    } else {
        writeFileSync(path, data);
    }
}

function loadChainInfo(path) {
    if (!path) throw new UsageError("--chain INFO.json is required");
    const info = JSON.parse(readFileSync(path, "utf8"));
    for (const field of ["public_key", "period", "genesis_time", "hash", "schemeID"]) {
        if (info[field] === undefined) throw new UsageError(`chain info lacks "${field}"`);
    }
    return info;
}

// The subset of drand-client's ChainClient that tlock-js 0.9.0 uses, served from memory.
function offlineClient(info, signatureHex) {
    const chain = {
        baseUrl: `offline://${info.hash}`,
        info: async () => info,
    };
    const beacon = (round) => {
        if (signatureHex === undefined) {
            throw new Error(`no beacon signature given (round ${round} was asked for)`);
        }
        const signature = signatureHex.toLowerCase();
        const randomness = createHash("sha256").update(Buffer.from(signature, "hex")).digest("hex");
        return { round, randomness, signature };
    };
    return {
        options: { disableBeaconVerification: false, noCache: true },
        chain: () => chain,
        get: async (round) => beacon(round),
        latest: async () => {
            throw new Error("latest() is not available offline");
        },
    };
}

async function seal(options) {
    const info = loadChainInfo(options.chain);
    if (!options.round || !/^[0-9]+$/.test(options.round)) {
        throw new UsageError("--round N (a positive integer) is required");
    }
    const [inPath, outPath] = options.positional;
    const plaintext = readInput(inPath);
    const armored = await timelockEncrypt(Number(options.round), plaintext, offlineClient(info));
    const out = options.binary ? Buffer.from(decodeArmor(armored), "latin1") : Buffer.from(armored, "latin1");
    writeOutput(outPath, out);
}

async function open(options) {
    const info = loadChainInfo(options.chain);
    if (!options.signature || !/^[0-9a-fA-F]+$/.test(options.signature)) {
        throw new UsageError("--signature HEX is required");
    }
    const [inPath, outPath] = options.positional;
    const ciphertext = readInput(inPath).toString("latin1");
    const plaintext = await timelockDecrypt(ciphertext, offlineClient(info, options.signature));
    writeOutput(outPath, Buffer.from(plaintext));
}

async function main(argv) {
    const { command, options } = parseArgs(argv);
    switch (command) {
        case "seal":
            return seal(options);
        case "open":
            return open(options);
        case "version":
            process.stdout.write(`${TLOCK_JS_VERSION}\n`);
            return;
        default:
            throw new UsageError(`unknown command ${command ?? "(none)"}; use seal, open or version`);
    }
}

main(process.argv.slice(2)).catch((err) => {
    const usage = err instanceof UsageError;
    process.stderr.write(`tlock.mjs: ${usage ? "usage: " : ""}${err && err.message ? err.message : err}\n`);
    process.exitCode = usage ? 2 : 1;
});
