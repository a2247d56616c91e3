// Reference logits from llama.cpp (the CPU prebuilt shipped in @node-llama-cpp/linux-x64) for the SharpSeek parity tests.
// Loads one GGUF file, evaluates one token sequence in a single call with an F32 KV cache, and prints exactly one JSON
// object on stdout: {"vocab": V, "logits": [[V floats] per position]} — the raw logits after every position.
// Usage: node logits.mjs --model PATH (--tokens 1,2,3 | --tokens-file FILE) [--threads N] [--batch N]
// A tokens file holds ids separated by commas or whitespace. Errors go to stderr with exit code 1.
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

function argument(name, fallback = null) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function parseTokens(text) {
    const ids = text.split(/[\s,]+/).filter(s => s.length > 0).map(s => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 0) throw new Error(`not a token id: '${s}'`);
        return n;
    });
    if (ids.length === 0) throw new Error("no tokens given");
    return ids;
}

async function main() {
    const modelPath = argument("--model");
    if (!modelPath) throw new Error("--model PATH is required");
    const tokensArg = argument("--tokens");
    const tokensFile = argument("--tokens-file");
    const tokens = parseTokens(tokensArg ?? (tokensFile ? fs.readFileSync(tokensFile, "utf8") : ""));
    const threads = Number(argument("--threads", "2"));
    const batch = Number(argument("--batch", String(Math.max(tokens.length, 1))));

    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
    const vocab = model.tokens.vocabSize ?? model.fileInsights.tokenizer?.vocabSize;
    const context = await model.createContext({
        contextSize: Math.max(tokens.length + 1, 32),
        batchSize: batch,
        threads: { ideal: threads, min: threads },
        flashAttention: false,
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
    });
    const sequence = context.getSequence();
    const results = await sequence.controlledEvaluate(tokens.map(t => [t, { generateNext: { logits: true } }]));
    const rows = results.map((r, position) => {
        const logits = r?.next?.logits;
        if (!logits) throw new Error(`llama.cpp returned no logits for position ${position}`);
        const row = new Array(logits.size);
        for (const [token, value] of logits) row[token] = value;
        return row;
    });
    process.stdout.write(JSON.stringify({ vocab: rows[0].length, logits: rows }) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch(e => {
    process.stderr.write(`logits.mjs: ${e?.stack ?? e}\n`);
    process.exit(1);
});
