// Decode and prefill speed of llama.cpp (the CPU prebuilt in @node-llama-cpp/linux-x64) on one GGUF file, for the
// SharpSeek decode benchmark. One repeat = prefill the whole prompt in one batch (logits for the last position only,
// as a generation would), then decode the given tokens one per call (logits and a native greedy pick each step).
// Usage: node bench.mjs --model PATH --prompt-tokens FILE --decode-tokens FILE [--threads 2] [--kv f16|f32]
//                       [--user-prompts FILE --user-tokens 24] [--repeats 3 | --serve]
//   --repeats N: one warm-up repeat, then N measured; prints one JSON object with every measured repeat.
//   --serve: prints {"ready": ...} once loaded, then runs one repeat per "repeat" line on stdin, answering each with a
//   JSON line {"prefill": tok/s, "decode": tok/s}; "quit" or end of input exits. This lets a caller interleave engines
//   so both see the same machine load.
//   With --user-prompts (one user's prompt per line, ids separated by commas), a "users N" line runs the multi-user
//   measurement of users.mjs on the same loaded model (users 1..N arrive together, each generates --user-tokens tokens
//   in one N-sequence context) and answers with its JSON line (every user's token times and the llama_decode calls).
// The ready line carries the single-stream context's KV-cache size as llama.cpp logs it ("llama_kv_cache: size = ..."):
// MiB and cells, from which the caller takes bytes per token.
import fs from "node:fs";
import readline from "node:readline";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { UsersBench } from "./users.mjs";

function argument(name, fallback = null) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const parseTokens = text => text.split(/[\s,]+/).filter(s => s.length > 0).map(Number);
const readTokens = file => parseTokens(fs.readFileSync(file, "utf8"));

async function main() {
    const modelPath = argument("--model");
    const prompt = readTokens(argument("--prompt-tokens"));
    const decode = readTokens(argument("--decode-tokens"));
    const threads = Number(argument("--threads", "2"));
    const repeats = Number(argument("--repeats", "3"));
    const kv = argument("--kv", "f16").toUpperCase();
    const serve = process.argv.includes("--serve");

    const userPromptsFile = argument("--user-prompts");
    const userTokens = Number(argument("--user-tokens", "24"));

    // Info-level logs only while the context is created, to read the KV cache's size; errors go to stderr as before.
    const kvLines = [];
    const logger = (level, message) => {
        if (message.includes("llama_kv_cache") && message.includes("cells")) kvLines.push(message.trim());
        else if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) process.stderr.write(message + "\n");
    };
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, logger, maxThreads: threads });
    let clock = performance.now();
    const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
    const loadSeconds = (performance.now() - clock) / 1000;
    llama.logLevel = LlamaLogLevel.info;
    const context = await model.createContext({
        contextSize: prompt.length + decode.length + 8,
        batchSize: prompt.length,
        threads: { ideal: threads, min: threads },
        experimentalKvCacheKeyType: kv,
        experimentalKvCacheValueType: kv,
    });
    // The log arrives through the event loop, possibly after createContext resolved: give it a moment.
    for (let i = 0; i < 200 && !kvLines.some(l => l.includes("size =")); i++) await new Promise(r => setTimeout(r, 10));
    llama.logLevel = LlamaLogLevel.error;
    const sequence = context.getSequence();
    const users = userPromptsFile == null ? null : new UsersBench(model, {
        prompts: fs.readFileSync(userPromptsFile, "utf8").split("\n").filter(l => l.trim().length > 0).map(parseTokens),
        userTokens, threads, kv,
    });
    const greedy = { generateNext: { token: true, options: { temperature: 0 } } };

    async function repeat() {
        await sequence.clearHistory();
        let t0 = performance.now();
        await sequence.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1 ? [t, greedy] : t));
        const prefillSeconds = (performance.now() - t0) / 1000;
        t0 = performance.now();
        for (const t of decode) await sequence.controlledEvaluate([[t, greedy]]);
        const decodeSeconds = (performance.now() - t0) / 1000;
        return { prefill: prompt.length / prefillSeconds, decode: decode.length / decodeSeconds };
    }

    // "llama_kv_cache: size =   15.23 MiB (   560 cells,  27 layers,  1/1 seqs), K (f16):   8.11 MiB, V (f16):   7.12 MiB"
    const kvMatch = kvLines.map(l => /size\s*=\s*([\d.]+)\s*MiB\s*\(\s*(\d+)\s*cells/.exec(l)).find(m => m != null);
    const info = {
        engine: "llama.cpp", release: llama.llamaCppRelease.release, threads, kvCacheType: kv,
        flashAttention: context.flashAttention, loadSeconds, promptTokens: prompt.length, decodeTokens: decode.length,
        kvCacheMiB: kvMatch ? Number(kvMatch[1]) : null, kvCacheCells: kvMatch ? Number(kvMatch[2]) : null, kvCacheLog: kvLines[0] ?? null,
    };
    if (serve) {
        process.stdout.write(JSON.stringify({ ready: true, ...info }) + "\n");
        for await (const line of readline.createInterface({ input: process.stdin })) {
            if (line.trim() === "quit") break;
            if (line.trim() === "repeat") process.stdout.write(JSON.stringify(await repeat()) + "\n");
            const usersMatch = /^users\s+(\d+)$/.exec(line.trim());
            if (usersMatch) {
                if (users == null) throw new Error("\"users N\" needs --user-prompts FILE");
                process.stdout.write(JSON.stringify(await users.run(Number(usersMatch[1]))) + "\n");
            }
        }
    } else {
        await repeat(); // warm-up
        const runs = [];
        for (let r = 0; r < repeats; r++) runs.push(await repeat());
        process.stdout.write(JSON.stringify({
            ...info, prefillTokensPerSecond: runs.map(r => r.prefill), decodeTokensPerSecond: runs.map(r => r.decode),
        }) + "\n");
    }
    await users?.close();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch(e => {
    process.stderr.write(`bench.mjs: ${e?.stack ?? e}\n`);
    process.exit(1);
});
