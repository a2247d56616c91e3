// Drives Debian's Chromium (/usr/bin/chromium) with playwright-core through the SharpSeek web chat: DeepThink on,
// send a message, watch reasoning then the answer stream in, keep a screenshot. Prints a JSON report; exit 1 on failure.
// env: SHARPSEEK_BASE_URL, SHARPSEEK_API_KEY, SCREENSHOT_PATH, CHROMIUM_PATH (default /usr/bin/chromium)
const { chromium } = require('playwright-core');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const base = process.env.SHARPSEEK_BASE_URL;
if (!base || !new URL(base).hostname.match(/^(127\.0\.0\.1|localhost|\[::1\])$/)) throw new Error('loopback SHARPSEEK_BASE_URL required');

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sharpseek-chromium-'));
  // A fresh profile folder per run (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 760 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = browser.pages()[0] ?? await browser.newPage();
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto(new URL('/#key=' + encodeURIComponent(process.env.SHARPSEEK_API_KEY), base).href);
    await page.check('#deepthink');
    await page.fill('#prompt', 'Why is the sky blue? Think first.');
    await page.click('#send');

    // Sample the assistant bubble while it streams: when did reasoning and answer text first appear?
    const seen = { reasoningAt: null, answerAt: null, stopEnabled: false };
    const t0 = Date.now();
    for (;;) {
      const s = await page.evaluate(() => {
        const m = [...document.querySelectorAll('.message.assistant')].pop();
        return m && {
          reasoning: m.querySelector('.reasoning').textContent.length,
          answer: m.querySelector('.answer').textContent.length,
          done: m.dataset.done === 'true',
          stop: !document.getElementById('stop').disabled,
        };
      });
      if (s) {
        if (s.reasoning > 0 && seen.reasoningAt === null) seen.reasoningAt = Date.now() - t0;
        if (s.answer > 0 && seen.answerAt === null) seen.answerAt = Date.now() - t0;
        if (s.stop) seen.stopEnabled = true;
        if (s.done) break;
      }
      if (Date.now() - t0 > 60000) throw new Error('the answer did not finish within 60 s');
      await page.waitForTimeout(15);
    }
    const final = await page.evaluate(() => {
      const m = [...document.querySelectorAll('.message.assistant')].pop();
      return {
        reasoning: m.querySelector('.reasoning').textContent,
        answer: m.querySelector('.answer').textContent,
        meta: m.querySelector('.meta').textContent,
        error: m.classList.contains('error'),
        conversations: document.querySelectorAll('#conversations li').length,
      };
    });
    // Fold/unfold the reasoning: it is a <details> block.
    await page.click('.message.assistant details summary');
    if (process.env.SCREENSHOT_PATH) {
      fs.mkdirSync(path.dirname(process.env.SCREENSHOT_PATH), { recursive: true });
      await page.screenshot({ path: process.env.SCREENSHOT_PATH, fullPage: true });
    }
    const report = { ...seen, reasoningLength: final.reasoning.length, answerLength: final.answer.length, meta: final.meta, error: final.error, conversations: final.conversations, pageErrors: errors };
    console.log(JSON.stringify(report));
    const ok = !final.error && final.reasoning.length > 0 && final.answer.length > 0 && seen.reasoningAt !== null && seen.answerAt !== null
      && seen.reasoningAt <= seen.answerAt && /cached/.test(final.meta) && /CNY/.test(final.meta) && errors.length === 0;
    process.exitCode = ok ? 0 : 1;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch(e => { console.error(e?.stack ?? e); process.exit(1); });
