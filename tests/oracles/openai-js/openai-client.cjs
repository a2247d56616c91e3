// The official `openai` npm client, unmodified, against a SharpSeek server: non-streaming, streaming with usage,
// FIM through /beta, and the error statuses. Prints one JSON report; exits 1 on the first mismatch.
// env: SHARPSEEK_BASE_URL (http://127.0.0.1:port/), SHARPSEEK_API_KEY; SHARPSEEK_BURST (concurrent requests sent at once at
// the end) and SHARPSEEK_BURST_TOKENS (tokens each of them generates)
const OpenAI = require('openai').default ?? require('openai');
const assert = require('node:assert/strict');

const base = process.env.SHARPSEEK_BASE_URL;
const key = process.env.SHARPSEEK_API_KEY;
if (!base || !new URL(base).hostname.match(/^(127\.0\.0\.1|localhost|\[::1\])$/)) throw new Error('loopback SHARPSEEK_BASE_URL required');

async function status(promise) {
  try { await promise; return 200; } catch (e) { if (e instanceof OpenAI.APIError) return e.status; throw e; }
}

(async () => {
  const client = new OpenAI({ baseURL: new URL('v1', base).href, apiKey: key, maxRetries: 0, timeout: 60000 });
  const report = {};

  const chat = await client.chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 12 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(typeof chat.created, 'number');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
  assert.equal(chat.usage.prompt_cache_hit_tokens + chat.usage.prompt_cache_miss_tokens, chat.usage.prompt_tokens);
  report.nonStreaming = { completion_tokens: chat.usage.completion_tokens };

  const stream = await client.chat.completions.create({
    model: 'deepseek-reasoner', messages: [{ role: 'user', content: 'Think, then answer' }], max_tokens: 40, stream: true,
    stream_options: { include_usage: true },
  });
  let reasoning = '', content = '', usage = null, finish = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.reasoning_content) { assert.equal(content, '', 'reasoning after content'); reasoning += c.delta.reasoning_content; }
      if (c.delta.content) content += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(usage, 'include_usage gives a usage chunk');
  assert.ok(usage.completion_tokens_details.reasoning_tokens > 0);
  assert.ok(reasoning.length > 0);
  assert.ok(finish);
  report.streaming = { chunks, reasoning_tokens: usage.completion_tokens_details.reasoning_tokens, finish };

  const beta = new OpenAI({ baseURL: new URL('beta', base).href, apiKey: key, maxRetries: 0 });
  const fim = await beta.completions.create({ model: 'deepseek-chat', prompt: 'def fib(n):', suffix: '    return a', max_tokens: 8 });
  assert.equal(typeof fim.choices[0].text, 'string');
  report.fim = { finish: fim.choices[0].finish_reason };

  const bad = new OpenAI({ baseURL: new URL('v1', base).href, apiKey: 'sk-wrong', maxRetries: 0 });
  report.errors = {
    unauthorized: await status(bad.chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'x' }] })),
    badRequest: await status(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })),
    invalidParameter: await status(client.chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'x' }], temperature: 9 })),
  };
  assert.deepEqual(report.errors, { unauthorized: 401, badRequest: 400, invalidParameter: 422 });

  // Overload: many concurrent requests on a small server; each either answers or is refused with 429/503.
  const burst = await Promise.all(Array.from({ length: Number(process.env.SHARPSEEK_BURST ?? 0) }, () =>
    status(client.chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'x' }],
      max_tokens: Number(process.env.SHARPSEEK_BURST_TOKENS ?? 200), ignore_eos: true }))));
  report.burst = burst.reduce((m, s) => (m[s] = (m[s] ?? 0) + 1, m), {});
  for (const s of burst) assert.ok([200, 429, 503].includes(s), `burst status ${s}`);

  console.log(JSON.stringify(report));
})().catch(e => { console.error(e?.stack ?? e); process.exit(1); });
