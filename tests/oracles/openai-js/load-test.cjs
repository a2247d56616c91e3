// Load test from a second process: N requests at once (bounded count, bounded time, loopback only) with raw fetch.
// Every request must end with 200, 429 or 503 within the deadline; prints {statuses, admitted, maxMs}.
// env: SHARPSEEK_BASE_URL, SHARPSEEK_API_KEY, LOAD_REQUESTS (default 40), LOAD_DEADLINE_MS (default 60000)
const base = process.env.SHARPSEEK_BASE_URL;
if (!base || !new URL(base).hostname.match(/^(127\.0\.0\.1|localhost|\[::1\])$/)) throw new Error('loopback SHARPSEEK_BASE_URL required');
const n = Math.min(Number(process.env.LOAD_REQUESTS ?? 40), 500);
const deadline = Math.min(Number(process.env.LOAD_DEADLINE_MS ?? 60000), 300000);

async function one(i) {
  const started = Date.now();
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), deadline);
  try {
    const stream = i % 2 === 0;
    const r = await fetch(new URL('chat/completions', base), {
      method: 'POST', signal: ctl.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.SHARPSEEK_API_KEY}` },
      body: JSON.stringify({ model: 'deepseek-chat', messages: [{ role: 'user', content: `load ${i}` }], max_tokens: 64, ignore_eos: true, stream }),
    });
    const text = await r.text();
    if (r.status === 200 && stream && !text.trimEnd().endsWith('data: [DONE]')) return { status: 'truncated-stream', ms: Date.now() - started };
    if (r.status === 200 && !stream) JSON.parse(text);
    return { status: r.status, ms: Date.now() - started };
  } catch (e) {
    return { status: ctl.signal.aborted ? 'hung' : 'error:' + e.message, ms: Date.now() - started };
  } finally { clearTimeout(timer); }
}

(async () => {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  console.log(JSON.stringify({ statuses, admitted: statuses[200] ?? 0, maxMs: Math.max(...results.map(r => r.ms)) }));
  process.exit(results.every(r => [200, 429, 503].includes(r.status)) ? 0 : 1);
})();
