// The official `openai` npm client's two-turn tool loop against a SharpSeek server: turn 1 forces a call (named
// function, non-streaming; `required`, streaming), the script answers it with a tool message, turn 2 lets the model
// reply. Prints one JSON report; exits 1 on the first mismatch.
// env: SHARPSEEK_BASE_URL (http://127.0.0.1:port/), SHARPSEEK_API_KEY, SHARPSEEK_TOOL_SCHEMA (the get_weather parameters)
const OpenAI = require('openai').default ?? require('openai');
const assert = require('node:assert/strict');

const base = process.env.SHARPSEEK_BASE_URL;
if (!base || !new URL(base).hostname.match(/^(127\.0\.0\.1|localhost|\[::1\])$/)) throw new Error('loopback SHARPSEEK_BASE_URL required');
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: JSON.parse(process.env.SHARPSEEK_TOOL_SCHEMA) } }];

function checkArguments(text) {
  const args = JSON.parse(text);
  assert.equal(typeof args.city, 'string');
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
  assert.deepEqual(Object.keys(args).sort(), ['city', 'unit']);
}

(async () => {
  const client = new OpenAI({ baseURL: new URL('v1', base).href, apiKey: process.env.SHARPSEEK_API_KEY, maxRetries: 0, timeout: 60000 });
  const report = {};

  // Non-streaming: named function, then the answer with tool_choice none.
  let messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await client.chat.completions.create({
    model: 'deepseek-chat', messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 200, seed: 4,
  });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.match(call.id, /^call_/);
  checkArguments(call.function.arguments);
  messages.push(choice.message);
  messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) });
  const second = await client.chat.completions.create({ model: 'deepseek-chat', messages, tools, tool_choice: 'none', max_tokens: 16, seed: 5 });
  assert.ok(['stop', 'length'].includes(second.choices[0].finish_reason));
  assert.equal(second.choices[0].message.tool_calls, undefined);
  report.nonStreaming = { finish: choice.finish_reason, arguments: call.function.arguments, answerFinish: second.choices[0].finish_reason };

  // Streaming: required, deltas accumulated by index as the SDK's docs show, then an auto turn.
  messages = [{ role: 'user', content: 'Weather in Oslo?' }];
  const stream = await client.chat.completions.create({
    model: 'deepseek-chat', messages, tools, tool_choice: 'required', max_tokens: 2500, seed: 6, stream: true, // 16 calls always fit (ToolCallingClientTests.RequiredCallsBudget)
  });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const d of c.delta.tool_calls ?? []) {
        if (!calls[d.index]) {
          assert.ok(d.id && d.function.name, 'the first delta of a call carries its id and name');
          assert.equal(d.type, 'function');
          calls[d.index] = { id: d.id, type: 'function', function: { name: d.function.name, arguments: '' } };
        }
        calls[d.index].function.arguments += d.function.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls.length >= 1);
  for (const c of calls) { assert.equal(c.function.name, 'get_weather'); checkArguments(c.function.arguments); }
  messages.push({ role: 'assistant', content: null, tool_calls: calls });
  for (const c of calls) messages.push({ role: 'tool', tool_call_id: c.id, content: '18 degrees' });
  const answer = await client.chat.completions.create({ model: 'deepseek-chat', messages, tools, tool_choice: 'auto', max_tokens: 16, seed: 7, stream: true });
  let answerFinish = null;
  for await (const chunk of answer) for (const c of chunk.choices) if (c.finish_reason) answerFinish = c.finish_reason;
  assert.ok(answerFinish);
  report.streaming = { finish, calls: calls.length, answerFinish };

  process.stdout.write(JSON.stringify(report));
})().catch(e => { console.error(e); process.exit(1); });
