// Drives the indus dashboard in headless Chromium: the live page at two
// widths (table, charts, filter, sort, keyboard focus, the "try it" form)
// and the static report from a file URL. Saves screenshots.
//
//   node dashboard.mjs URL REPORT_HTML OUT_DIR NAME[,NAME...]
//
// Exits non-zero, naming each failed check. Run by tests/serve.rs.
import { chromium } from "playwright-core";

const [url, reportPath, outDir, namesArg] = process.argv.slice(2);
const names = namesArg.split(",");
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
try {
  for (const width of [1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors = [];
    page.on("pageerror", e => errors.push(e.message));
    const offsite = [];
    page.on("request", r => { if (!r.url().startsWith(url) && !r.url().startsWith("data:")) offsite.push(r.url()); });
    const res = await page.goto(url + "/");
    check(res.ok(), `${width}px: GET / answered ${res.status()}`);

    const listed = await page.$$eval("#scenarios tbody tr td:nth-child(2)", tds => tds.map(t => t.textContent.trim()));
    for (const n of names) check(listed.includes(n), `${width}px: table lists ${n} (found ${listed})`);
    const lines = await page.$$eval("#curve-loss svg polyline, #curve-loss svg path", e => e.length);
    check(lines > 0, `${width}px: the loss chart has lines`);

    // Labelled controls, reachable with the keyboard.
    const filter = page.getByLabel("Filter rows");
    await filter.focus();
    check(await filter.evaluate(el => el === document.activeElement), `${width}px: filter takes focus`);
    await page.keyboard.type("finance");
    const visible = await page.$$eval("#scenarios tbody tr", rs => rs.filter(r => !r.hidden).length);
    check(visible === 1, `${width}px: filtering "finance" leaves 1 row, got ${visible}`);
    await filter.fill("");
    await page.keyboard.press("Tab");
    const next = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
    check(next !== "BODY", `${width}px: Tab moves focus on from the filter`);

    // Sorting by scenario, descending on the second press.
    const sortBtn = page.locator('#scenarios th button[data-col="1"]');
    await sortBtn.click(); await sortBtn.click();
    const sorted = await page.$$eval("#scenarios tbody tr td:nth-child(2)", tds => tds.map(t => t.textContent.trim()));
    check(JSON.stringify(sorted) === JSON.stringify([...names].sort().reverse()), `${width}px: sort descending, got ${sorted}`);

    if (width === 390) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `390px: the page scrolls sideways by ${overflow}px (only the table may)`);
    }

    // Try it: open the first scenario, submit its prefilled example.
    const first = names[0];
    const panel = page.locator(`details[data-name="${first}"]`);
    await panel.locator("summary").click();
    await panel.locator(".try-fields select, .try-fields input, .try-fields textarea").first().waitFor({ timeout: 10000 });
    await panel.locator('form.try button[type="submit"]').click();
    const result = panel.locator(".try-result");
    await page.waitForFunction(el => el.textContent && !el.textContent.startsWith("Predicting") && !el.textContent.includes("Explaining"),
                               await result.elementHandle(), { timeout: 15000 }).catch(() => {});
    const shown = (await result.textContent()) || "";
    check(shown.includes("probability"), `${width}px: try-it shows a prediction, got: ${shown.slice(0, 300)}`);
    const bars = await panel.locator(".explanation svg rect").count();
    check(bars > 2, `${width}px: explanation bars drawn (${bars} rects)`);

    await page.screenshot({ path: `${outDir}/dashboard-${width}.png`, fullPage: true });
    check(errors.length === 0, `${width}px: no script errors (${errors})`);
    check(offsite.length === 0, `${width}px: nothing loaded from elsewhere (${offsite})`);
    await page.close();
  }

  const report = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await report.goto("file://" + reportPath);
  const rows = await report.$$eval("#scenarios tbody tr", rs => rs.length);
  check(rows === names.length, `report: ${rows} table rows for ${names.length} scenarios`);
  const charts = await report.$$eval("figure svg", s => s.length);
  check(charts >= 2 + 3 * names.length, `report: ${charts} charts drawn`);
  await report.screenshot({ path: `${outDir}/report-1280.png`, fullPage: true });
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.map(f => "FAIL: " + f).join("\n"));
  process.exit(1);
}
console.log(`dashboard ok; screenshots in ${outDir}`);
