// Drives the CDS Hooks sandbox (the reference EHR client) in headless Debian Chromium with playwright-core.
// Used by tests/test_sandbox_e2e.py:   node tests/sandbox/drive.mjs CONFIG.json
// CONFIG: {scenario: "patient-view" | "rx-view", sandboxUrl, fhirBase, serviceBase, patientId,
//          drug (typed, rx-view), pick (the list entry clicked, rx-view), screenshotDir, result (output path)}
// It only acts and records; the test asserts. The result JSON has every request the page made to the service
// or the FHIR server (method, url, status, bodies), the cards as rendered, console errors and screenshots.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const TIMEOUT = 45_000; // the machine is shared: the app's start-up alone takes 3-5 s when idle
const CARD = '[class*="decision-card"]';

const browser = await chromium.launch({
  executablePath: config.chromium || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run',
    // Off the internet without request interception (which would answer CORS preflights itself).
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
  ],
});
const result = { scenario: config.scenario, calls: [], consoleErrors: [], screenshots: [], steps: [] };
const ours = (url) => url.startsWith(config.serviceBase) || url.startsWith(config.fhirBase);
const pending = []; // response bodies still being read
const parse = (text) => { try { return JSON.parse(text); } catch { return text; } };

try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(TIMEOUT);
  page.on('console', (m) => {
    if (m.type() === 'error') result.consoleErrors.push({ text: m.text(), url: m.location().url });
  });
  page.on('requestfailed', (q) => {
    if (ours(q.url())) result.calls.push({ method: q.method(), url: q.url(), status: 0, error: q.failure()?.errorText });
  });
  page.on('response', async (r) => {
    const q = r.request();
    if (!ours(q.url())) return;
    const call = { method: q.method(), url: q.url(), status: r.status(), request: parse(q.postData() ?? '') };
    if (q.url().startsWith(config.serviceBase)) call.authorization = q.headers().authorization ?? null;
    result.calls.push(call);
    pending.push(r.text().then((text) => { call.response = parse(text); }, () => {}));
  });
  const shot = async (name) => {
    mkdirSync(config.screenshotDir, { recursive: true });
    const path = join(config.screenshotDir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    result.screenshots.push(path);
  };
  const hookResponse = (service, test = () => true) => page.waitForResponse(
    (r) => r.url() === `${config.serviceBase}/cds-services/${service}` && r.request().method() === 'POST'
      && test(parse(r.request().postData() ?? '')),
  );
  const renderedCards = async () => {
    const cards = [];
    for (const card of await page.locator(CARD).all()) {
      cards.push({
        className: await card.getAttribute('class'),
        summary: (await card.locator('p').first().innerText()).trim(),
        text: await card.innerText(),
      });
    }
    return cards;
  };
  const query = new URLSearchParams({
    fhirServiceUrl: config.fhirBase,
    patientId: config.patientId,
    serviceDiscoveryURL: `${config.serviceBase}/cds-services`,
  });

  if (config.scenario === 'patient-view') {
    const called = hookResponse('magnesium-leg-symptoms');
    await page.goto(`${config.sandboxUrl}/?${query}`);
    await called;
    await page.locator(CARD).first().waitFor();
    result.cards = await renderedCards();
    await shot('patient-view');
    // Dismiss the first card with the first override reason of its ▾ menu.
    const card = page.locator(CARD).first();
    await card.getByRole('button', { name: 'select dismiss reason' }).click();
    const reason = page.getByRole('menuitem').first();
    result.overrideChoice = (await reason.innerText()).trim();
    const feedback = page.waitForResponse((r) => r.url().endsWith('/feedback') && r.request().method() === 'POST');
    await reason.click();
    await feedback;
    // The sandbox removes a dismissed card; the test asserts that, so only wait here, never fail.
    await page.locator(CARD).first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
    result.cardsAfterDismiss = await renderedCards();
    await shot('patient-view-dismissed');
  } else if (config.scenario === 'rx-view') {
    query.set('hook', 'order-select');
    query.set('screen', 'rx-view');
    // The first order-select call carries a draft without a medication; wait for it so typing is not lost.
    const first = hookResponse('magnesium-order-select');
    await page.goto(`${config.sandboxUrl}/?${query}`);
    await first;
    const box = page.locator('input[name="medication-input"]');
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      await box.fill('');
      await box.click();
      await box.pressSequentially(config.drug, { delay: 400 }); // a debounced controlled input
      const typed = await box.inputValue();
      result.steps.push({ attempt, typed });
      if (typed === config.drug) break;
    }
    const ordered = hookResponse(
      'magnesium-order-select',
      (body) => Boolean(body?.context?.draftOrders?.entry?.[0]?.resource?.medicationCodeableConcept),
    );
    await page.getByText(config.pick, { exact: true }).click();
    await ordered;
    await page.locator(CARD).first().waitFor();
    result.cards = await renderedCards();
    await shot('rx-view');
  } else {
    throw new Error(`unknown scenario ${config.scenario}`);
  }
} catch (error) {
  result.error = String(error?.stack || error);
} finally {
  await Promise.allSettled(pending);
  await browser.close();
  writeFileSync(config.result, JSON.stringify(result, null, 2));
}
