// Many users at once on llama.cpp (the CPU prebuilt in @node-llama-cpp/linux-x64), for the SharpSeek decode
// benchmark's multi-user section. N users arrive together, each with its own prompt, and each generates exactly D tokens
// (greedy; end-of-sequence ignored: every drawn token is fed back).
//
// How llama.cpp batches them: ONE context created with `sequences: N` holds N KV-cache sequences. Every user runs its
// own loop of `controlledEvaluate` calls on its own sequence, and all N loops start together. node-llama-cpp queues the
// evaluations of a context and dispatches what is queued as one `llama_decode` (LlamaContext.dispatchPendingBatch: the
// queue is cut to `batchSize` tokens by the "maximumParallelism" strategy and decoded as one batch; it dispatches at
// once when every sequence of the context has something queued, else on the next event-loop turn). So the N prompts
// go in one llama_decode (batchSize = their total), and then every step decodes one token of each of the N sequences
// in one llama_decode. The runner wraps the context's native initBatch/addToBatch/decodeBatch to record each
// llama_decode call (sequences, tokens, milliseconds), so every result shows the batches that really ran.
//
// Used by bench.mjs --serve ("users N" requests). Standalone, it prints that evidence for a file:
//   node users.mjs --model PATH [--users 1,8] [--prompt-tokens 48] [--user-tokens 24] [--threads 2] [--kv f16|f32]
// which shows, per N, the llama_decode calls (sequences and tokens in each) and the median step time: with batching,
// a step of N=8 holds 8 sequences and costs far less than 8 steps of N=1.
import { pathToFileURL } from "node:url";

const greedy = { generateNext: { token: true, options: { temperature: 0 } } };

/** Runs the multi-user measurement on one loaded model; keeps one context (for the last N asked) between runs. */
export class UsersBench {
    /**
     * @param model a LlamaModel
     * @param prompts token ids of each user's prompt (user i gets prompts[i]); at least as many as the largest N
     * @param userTokens tokens each user generates (the first comes from its prompt's last position)
     */
    constructor(model, { prompts, userTokens, threads, kv }) {
        this.model = model;
        this.prompts = prompts;
        this.userTokens = userTokens;
        this.threads = threads;
        this.kv = kv;
        this.context = null;
        this.sequences = [];
        this.log = [];
    }

    async open(n) {
        if (this.context != null && this.sequences.length === n) return;
        if (n > this.prompts.length) throw new Error(`${n} users but only ${this.prompts.length} prompts`);
        await this.close();
        const prompts = this.prompts.slice(0, n);
        const context = await this.model.createContext({
            sequences: n,
            // per sequence: node-llama-cpp allocates contextSize cells for each of the N sequences
            contextSize: Math.max(...prompts.map(p => p.length)) + this.userTokens + 8,
            // all N prompts fit one batch, so arrival is one llama_decode (each later step holds N tokens)
            batchSize: prompts.reduce((s, p) => s + p.length, 0),
            threads: { ideal: this.threads, min: this.threads },
            experimentalKvCacheKeyType: this.kv,
            experimentalKvCacheValueType: this.kv,
        });
        this.context = context;
        this.sequences = Array.from({ length: n }, () => context.getSequence());
        this.instrument(context._ctx);
        // Touch every sequence once (one token each, one batch) so the first measured run finds nothing left to set up.
        await Promise.all(this.sequences.map((s, i) => s.controlledEvaluate([prompts[i][0]])));
        await Promise.all(this.sequences.map(s => s.clearHistory()));
    }

    /** Records every llama_decode node-llama-cpp makes on this context: sequences and tokens in it, and its time. */
    instrument(ctx) {
        const self = this;
        let pending = null;
        const initBatch = ctx.initBatch, addToBatch = ctx.addToBatch, decodeBatch = ctx.decodeBatch;
        // The native methods are read-only on the prototype; own properties on this instance shadow them.
        const wrap = (name, fn) => Object.defineProperty(ctx, name, { value: fn, writable: true, configurable: true });
        wrap("initBatch", function () {
            pending = { sequences: new Set(), tokens: 0 };
            return initBatch.apply(this, arguments);
        });
        wrap("addToBatch", function (sequenceId, firstTokenIndex, tokens) {
            if (pending != null) { pending.sequences.add(sequenceId); pending.tokens += tokens.length; }
            return addToBatch.apply(this, arguments);
        });
        wrap("decodeBatch", async function () {
            const batch = pending;
            pending = null;
            const t0 = performance.now();
            try {
                return await decodeBatch.apply(this, arguments);
            } finally {
                if (batch != null) self.log.push({ sequences: batch.sequences.size, tokens: batch.tokens, ms: performance.now() - t0 });
            }
        });
    }

    /** N users arrive now; returns every user's token times (ms from arrival) and the llama_decode calls made. */
    async run(n) {
        await this.open(n);
        await Promise.all(this.sequences.map(s => s.clearHistory()));
        this.log = [];
        const d = this.userTokens;
        const stepDone = barrier(n);
        const t0 = performance.now();
        const user = async (sequence, prompt) => {
            const times = [];
            let out = await sequence.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1 ? [t, greedy] : t));
            let token = out[prompt.length - 1]?.next?.token;
            times.push(performance.now() - t0);
            while (times.length < d) {
                await stepDone();
                out = await sequence.controlledEvaluate([[token ?? 0, greedy]]);
                token = out[0]?.next?.token;
                times.push(performance.now() - t0);
            }
            return times;
        };
        const tokenMs = await Promise.all(this.sequences.map((s, i) => user(s, this.prompts[i])));
        return {
            users: n, userTokens: d, tokenMs, batches: this.log,
            contextSize: this.context.contextSize, batchSize: this.context.batchSize,
        };
    }

    async close() {
        if (this.context != null) await this.context.dispose();
        this.context = null;
        this.sequences = [];
    }
}

/**
 * A step barrier for n users: each user's next token is queued only once every user has its token of this step, as a
 * server's step loop does. Without it, node-llama-cpp starts the next llama_decode as soon as the first users'
 * samples are back (its dispatch loop takes whatever is queued when a batch ends), and one sequence in every step lands
 * in a batch of its own: steps of N-1 and 1 sequences instead of N.
 */
function barrier(n) {
    let waiting = 0, release, gate = new Promise(r => (release = r));
    return () => {
        const current = gate;
        if (++waiting === n) {
            waiting = 0;
            const open = release;
            gate = new Promise(r => (release = r));
            open();
        }
        return current;
    };
}

/** One line per N: the llama_decode calls of a run, grouped by (sequences, tokens), and the median step time. */
export function describeBatches(result) {
    const groups = new Map();
    for (const b of result.batches) {
        const key = `${b.sequences} seq × ${b.tokens} tok`;
        const g = groups.get(key) ?? { count: 0, ms: [] };
        g.count++;
        g.ms.push(b.ms);
        groups.set(key, g);
    }
    const median = xs => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
    return [...groups].map(([k, g]) => `${g.count}× [${k}] median ${median(g.ms).toFixed(0)} ms`).join(", ");
}

function argument(name, fallback = null) {
    const i = process.argv.indexOf(name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main() {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const modelPath = argument("--model");
    if (!modelPath) throw new Error("--model PATH is required");
    const users = argument("--users", "1,8").split(",").map(Number);
    const promptTokens = Number(argument("--prompt-tokens", "48"));
    const userTokens = Number(argument("--user-tokens", "24"));
    const threads = Number(argument("--threads", "2"));
    const kv = argument("--kv", "f16").toUpperCase();
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
    const vocab = model.fileInsights.tokenizer?.vocabSize ?? model.tokens.vocabSize ?? 256;
    let seed = 17;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const prompts = Array.from({ length: Math.max(...users) }, () => Array.from({ length: promptTokens }, () => next() % (vocab - 1)));
    const bench = new UsersBench(model, { prompts, userTokens, threads, kv });
    for (const n of users) {
        await bench.run(n); // warm-up
        const r = await bench.run(n);
        const wall = Math.max(...r.tokenMs.map(t => t[t.length - 1])) / 1000;
        process.stdout.write(`N=${n}: ${(n * userTokens / wall).toFixed(2)} tok/s over ${wall.toFixed(1)} s; llama_decode calls: ${describeBatches(r)}\n`);
    }
    await bench.close();
    await model.dispose();
    await llama.dispose();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    main().catch(e => {
        process.stderr.write(`users.mjs: ${e?.stack ?? e}\n`);
        process.exit(1);
    });
}
