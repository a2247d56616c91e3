// Decode and prefill speed of llama.cpp (the CPU prebuilt in @node-llama-cpp/linux-x64) on one GGUF file, for the
// SharpSeek decode benchmark. One repeat = prefill the whole prompt in one batch (logits for the last position only,
// as a generation would), then decode the given tokens one per call (logits and a native greedy pick each step).
// Usage: node bench.mjs --model PATH --prompt-tokens FILE --decode-tokens FILE [--threads 2] [--kv f16|f32] [--repeats 3 | --serve]
//   --repeats N: one warm-up repeat, then N measured; prints one JSON object with every measured repeat.
//   --serve: prints {"ready": ...} once loaded, then runs one repeat per "repeat" line on stdin, answering each with a
//   JSON line {"prefill": tok/s, "decode": tok/s}; "quit" or end of input exits. This lets a caller interleave engines
//   so both see the same machine load.
import fs from "node:fs";
import readline from "node:readline";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

function argument(name, fallback = null) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const readTokens = file => fs.readFileSync(file, "utf8").split(/[\s,]+/).filter(s => s.length > 0).map(Number);

async function main() {
    const modelPath = argument("--model");
    const prompt = readTokens(argument("--prompt-tokens"));
    const decode = readTokens(argument("--decode-tokens"));
    const threads = Number(argument("--threads", "2"));
    const repeats = Number(argument("--repeats", "3"));
    const kv = argument("--kv", "f16").toUpperCase();
    const serve = process.argv.includes("--serve");

    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
    let clock = performance.now();
    const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
    const loadSeconds = (performance.now() - clock) / 1000;
    const context = await model.createContext({
        contextSize: prompt.length + decode.length + 8,
        batchSize: prompt.length,
        threads: { ideal: threads, min: threads },
        experimentalKvCacheKeyType: kv,
        experimentalKvCacheValueType: kv,
    });
    const sequence = context.getSequence();
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

    const info = {
        engine: "llama.cpp", release: llama.llamaCppRelease.release, threads, kvCacheType: kv,
        flashAttention: context.flashAttention, loadSeconds, promptTokens: prompt.length, decodeTokens: decode.length,
    };
    if (serve) {
        process.stdout.write(JSON.stringify({ ready: true, ...info }) + "\n");
        for await (const line of readline.createInterface({ input: process.stdin })) {
            if (line.trim() === "quit") break;
            if (line.trim() === "repeat") process.stdout.write(JSON.stringify(await repeat()) + "\n");
        }
    } else {
        await repeat(); // warm-up
        const runs = [];
        for (let r = 0; r < repeats; r++) runs.push(await repeat());
        process.stdout.write(JSON.stringify({
            ...info, prefillTokensPerSecond: runs.map(r => r.prefill), decodeTokensPerSecond: runs.map(r => r.decode),
        }) + "\n");
    }
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch(e => {
    process.stderr.write(`bench.mjs: ${e?.stack ?? e}\n`);
    process.exit(1);
});
