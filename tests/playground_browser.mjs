// Drives /playground in headless Debian Chromium (playwright-core from package-lock.json) for
// tests/test_playground.py, in one browser session: every golden sample, a pasted Bundle, suggestion and
// dismiss clicks, invalid JSON, and a hostile card detail. Prints one JSON report on stdout; the Python
// test makes the assertions. Any request that leaves the service is aborted and reported (no CDN).
//
//   node tests/playground_browser.mjs BASE_URL SCREENSHOT_DIR PASTE_BUNDLE_FILE
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, shots, pasteFile] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const report = { samples: [], external: [] };
let problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base + "/") || url.startsWith("data:")) return route.continue();
    report.external.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`http ${r.status()}: ${r.url()}`);
  });

  const take = () => {
    const taken = problems;
    problems = [];
    return taken;
  };
  const runOf = async () => Number(await page.getAttribute("#results", "data-run"));
  const settled = (before) =>
    page.waitForFunction(
      (b) => {
        const r = document.getElementById("results");
        return Number(r.dataset.run) > b && r.dataset.state !== "loading";
      },
      before,
      { timeout: 20000 }
    );
  const snapshot = () =>
    page.evaluate(() => {
      const shown = (id) => (document.getElementById(id).hidden ? null : document.getElementById(id).innerText);
      const results = document.getElementById("results");
      return {
        state: results.dataset.state,
        hook: document.querySelector('input[name="hook"]:checked').value,
        error: shown("error"),
        expectation: shown("expectation"),
        patient: shown("patient"),
        cards: [...document.querySelectorAll("#cards .card")].map((c) => ({
          topic: c.dataset.topic,
          indicator: c.dataset.indicator,
          summary: c.querySelector(".card__summary").textContent,
          detailText: c.querySelector(".card__detail")?.textContent ?? "",
          detailElements: c.querySelectorAll(".card__detail *").length,
          detailLinks: [...c.querySelectorAll(".card__detail a")].map((a) => [a.target, a.rel]),
          source: c.querySelector(".card__source").textContent,
          suggestions: [...c.querySelectorAll(".suggestion__button")].map((b) => b.textContent),
          links: c.querySelectorAll(".card__links a").length,
          overrideReasons: c.querySelectorAll(".override__reason option").length - 1,
          borderColour: getComputedStyle(c).borderLeftColor,
        })),
        findings: [...document.querySelectorAll("#findings tbody tr[data-code]")].map((r) => ({
          code: r.dataset.code,
          cells: [...r.cells].map((td) => td.textContent.trim()),
        })),
      };
    });

  await page.goto(`${base}/playground`);
  await page.waitForSelector("#sample[data-loaded]");
  report.title = await page.title();
  const names = await page.$$eval("#sample option", (os) => os.map((o) => o.value).filter(Boolean));
  take(); // page load problems are reported with the first sample

  // Every golden sample: pick it (the page loads its Bundle, sets the hook and evaluates).
  for (const name of names) {
    const before = await runOf();
    await page.selectOption("#sample", name);
    await settled(before);
    const shot = join(shots, `${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    report.samples.push({ name, ...(await snapshot()), screenshot: shot, problems: take() });
  }

  // A pasted Bundle, evaluated with the button.
  await page.selectOption("#sample", "");
  await page.fill("#bundle", readFileSync(pasteFile, "utf-8"));
  await page.check('input[name="hook"][value="patient-view"]');
  let before = await runOf();
  await page.click("#evaluate");
  await settled(before);
  report.pasted = { ...(await snapshot()), problems: take() };

  // Suggestions and override reasons are interactive, as in an EHR.
  const acts = (c) => c.suggestions.length > 0 && c.overrideReasons > 0;
  const acted = names.find((n) => report.samples.find((s) => s.name === n).cards.some(acts));
  report.interaction = { sample: acted };
  if (acted) {
    before = await runOf();
    await page.selectOption("#sample", acted);
    await settled(before);
    const card = page
      .locator('#cards .card:not([data-override-reasons="0"])', { has: page.locator(".suggestion__button") })
      .first();
    await card.locator(".suggestion__button").first().click();
    report.interaction.accepted = await card.locator(".card__status").textContent();
    await card.locator(".override .btn--quiet").click();
    const reasons = await card.locator(".override__reason option").count();
    await card.locator(".override__reason").selectOption({ index: 1 });
    report.interaction.reason = await card.locator(".override__reason option").nth(1).textContent();
    report.interaction.reasons = reasons - 1;
    await card.locator(".override__form .btn").click();
    report.interaction.dismissed = await card.locator(".card__status").textContent();
    report.interaction.dismissedClass = await card.getAttribute("class");
    await page.screenshot({ path: join(shots, "interaction.png"), fullPage: true });
  }
  report.interaction.problems = take();

  // Invalid JSON is reported on the page, without a request.
  await page.fill("#bundle", "{nope");
  before = await runOf();
  await page.click("#evaluate");
  await settled(before);
  report.invalid = { ...(await snapshot()), problems: take() };

  // A hostile card detail (detail may quote EHR-derived text): rendered as Markdown, sanitised.
  await page.route("**/playground/evaluate*", (route) =>
    route.fulfill({
      contentType: "application/json",
      body: JSON.stringify({
        cards: [
          {
            uuid: "hostile",
            summary: "<b>plain</b> summary",
            indicator: "critical",
            source: { label: "x", url: "javascript:window.__xss=4", topic: { system: "urn:t", code: "hostile" } },
            detail:
              '**Do** <img src="data:," onerror="window.__xss=1"> <script>window.__xss=2</script> ' +
              '[bad](javascript:window.__xss=3) [good](https://example.org/) <a href="https://example.org/" onclick="window.__xss=5">ok</a>',
            links: [{ label: "evil", url: "javascript:window.__xss=6", type: "absolute" }],
          },
        ],
        findings: [],
      }),
    })
  );
  await page.fill("#bundle", readFileSync(pasteFile, "utf-8"));
  before = await runOf();
  await page.click("#evaluate");
  await settled(before);
  report.hostile = await page.evaluate(() => {
    const card = document.querySelector("#cards .card");
    return {
      xss: window.__xss ?? null,
      summaryHtml: card.querySelector(".card__summary").innerHTML,
      detailHtml: card.querySelector(".card__detail").innerHTML,
      strong: card.querySelectorAll(".card__detail strong").length,
      hrefs: [...card.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
      handlers: card.querySelectorAll("[onerror], [onclick], script").length,
    };
  });
  await page.unroute("**/playground/evaluate*");
  report.hostile.problems = take();
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
