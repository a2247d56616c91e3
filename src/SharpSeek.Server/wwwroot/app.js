// SharpSeek web chat: conversations in localStorage, streaming over SSE from /chat/completions, DeepThink toggle
// (deepseek-reasoner) with the reasoning in a collapsible block, a stop button, and usage + cost per answer.
'use strict';
(() => {
  const $ = id => document.getElementById(id);
  const store = {
    load() { try { return JSON.parse(localStorage.getItem('sharpseek.conversations') || '[]'); } catch { return []; } },
    save(list) { localStorage.setItem('sharpseek.conversations', JSON.stringify(list)); },
  };
  let conversations = store.load();
  let current = null;
  let controller = null;
  let pricing = { 'deepseek-chat': { hit: 0.5, miss: 2, output: 8 }, 'deepseek-reasoner': { hit: 1, miss: 4, output: 16 }, currency: 'CNY' };

  const hashKey = new URLSearchParams(location.hash.slice(1)).get('key');
  if (hashKey) { localStorage.setItem('sharpseek.key', hashKey); history.replaceState(null, '', location.pathname); }
  $('api-key').value = localStorage.getItem('sharpseek.key') || '';
  $('api-key').addEventListener('change', e => localStorage.setItem('sharpseek.key', e.target.value.trim()));
  fetch('/ui/pricing.json').then(r => r.ok ? r.json() : null).then(p => { if (p) pricing = p; }).catch(() => {});
  // A model trained only to reason (its own template is R1's) starts with DeepThink on, and the page says why;
  // the user's own choice, once made, wins.
  $('deepthink').addEventListener('change', e => localStorage.setItem('sharpseek.deepthink', e.target.checked ? 'on' : 'off'));
  fetch('/ui/model.json').then(r => r.ok ? r.json() : null).then(m => {
    if (!m) return;
    const chosen = localStorage.getItem('sharpseek.deepthink');
    if (!m.supports_thinking) { $('deepthink').checked = false; $('deepthink').disabled = true; $('deepthink-note').textContent = 'this model has no reasoning tokens'; return; }
    if (chosen === null && m.thinks_by_default) $('deepthink').checked = true;
    else if (chosen !== null) $('deepthink').checked = chosen === 'on';
    if (m.thinks_by_default) $('deepthink-note').textContent = 'on by default: this model was trained to reason before it answers';
  }).catch(() => {});

  function newConversation() {
    current = { id: Date.now().toString(36), title: 'New chat', messages: [] };
    conversations.unshift(current);
    store.save(conversations);
    render();
  }

  function renderList() {
    const ul = $('conversations');
    ul.textContent = '';
    for (const c of conversations) {
      const li = document.createElement('li');
      li.textContent = c.title;
      li.className = c === current ? 'active' : '';
      li.onclick = () => { if (!controller) { current = c; render(); } };
      ul.appendChild(li);
    }
  }

  function messageElement(m) {
    const div = document.createElement('div');
    div.className = 'message ' + m.role + (m.error ? ' error' : '');
    if (m.role === 'assistant') {
      const details = document.createElement('details');
      details.className = 'thinking';
      details.open = true;
      details.hidden = !m.reasoning;
      const summary = document.createElement('summary');
      summary.textContent = 'Thought';
      const reasoning = document.createElement('div');
      reasoning.className = 'reasoning';
      reasoning.textContent = m.reasoning || '';
      details.append(summary, reasoning);
      const answer = document.createElement('div');
      answer.className = 'answer';
      answer.textContent = m.content || '';
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = m.meta || '';
      div.append(details, answer, meta);
    } else {
      div.textContent = m.content;
    }
    return div;
  }

  function render() {
    renderList();
    const box = $('messages');
    box.textContent = '';
    if (current) for (const m of current.messages) box.appendChild(messageElement(m));
    box.scrollTop = box.scrollHeight;
  }

  function costOf(model, u) {
    const p = pricing[model];
    if (!p || !u) return '';
    const cost = (u.prompt_cache_hit_tokens * p.hit + u.prompt_cache_miss_tokens * p.miss + u.completion_tokens * p.output) / 1e6;
    return `${cost.toFixed(6)} ${pricing.currency || 'CNY'}`;
  }

  async function send(text) {
    if (!current) newConversation();
    const model = $('deepthink').checked ? 'deepseek-reasoner' : 'deepseek-chat';
    current.messages.push({ role: 'user', content: text });
    if (current.title === 'New chat') current.title = text.slice(0, 40);
    const reply = { role: 'assistant', content: '', reasoning: '', model, meta: '' };
    current.messages.push(reply);
    render();
    const el = $('messages').lastElementChild;
    const details = el.querySelector('details'), reasoningEl = el.querySelector('.reasoning'), answerEl = el.querySelector('.answer'), metaEl = el.querySelector('.meta');
    const history = current.messages.slice(0, -1).filter(m => !m.error).map(m => ({ role: m.role, content: m.content }));
    controller = new AbortController();
    $('stop').disabled = false;
    $('send').disabled = true;
    let usage = null, finish = null;
    try {
      const r = await fetch('/chat/completions', {
        method: 'POST', signal: controller.signal,
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + $('api-key').value.trim() },
        body: JSON.stringify({ model, messages: history, stream: true, stream_options: { include_usage: true } }),
      });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        throw new Error(body?.error?.message || `HTTP ${r.status}`);
      }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data: ')) continue; // ": keep-alive" comments while queued
            const data = line.slice(6);
            if (data === '[DONE]') continue;
            const chunk = JSON.parse(data);
            if (chunk.error) throw new Error(chunk.error.message);
            if (chunk.usage) usage = chunk.usage;
            for (const c of chunk.choices || []) {
              if (c.delta?.reasoning_content) {
                reply.reasoning += c.delta.reasoning_content;
                reasoningEl.textContent = reply.reasoning;
                details.hidden = false;
              }
              if (c.delta?.content) {
                if (!reply.content && reply.reasoning) details.open = false; // fold the reasoning once the answer starts
                reply.content += c.delta.content;
                answerEl.textContent = reply.content;
              }
              if (c.finish_reason) finish = c.finish_reason;
            }
          }
        }
        $('messages').scrollTop = $('messages').scrollHeight;
      }
      if (usage) {
        const reasoningTokens = usage.completion_tokens_details?.reasoning_tokens ?? 0;
        reply.meta = `${usage.prompt_tokens} prompt (${usage.prompt_cache_hit_tokens} cached) · ${usage.completion_tokens} output` +
          (reasoningTokens ? ` (${reasoningTokens} reasoning)` : '') + ` · ${costOf(model, usage)}` + (finish ? ` · ${finish}` : '');
      }
    } catch (e) {
      if (e.name === 'AbortError') reply.meta = 'stopped';
      else { reply.error = true; reply.meta = 'error: ' + e.message; el.classList.add('error'); }
    } finally {
      metaEl.textContent = reply.meta;
      el.dataset.done = 'true';
      controller = null;
      $('stop').disabled = true;
      $('send').disabled = false;
      store.save(conversations);
      renderList();
    }
  }

  $('composer').addEventListener('submit', e => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text || controller) return;
    $('prompt').value = '';
    send(text);
  });
  $('prompt').addEventListener('keydown', e => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); } });
  $('stop').addEventListener('click', () => controller?.abort());
  $('new-chat').addEventListener('click', () => { if (!controller) newConversation(); });
  current = conversations[0] ?? null;
  render();
})();
