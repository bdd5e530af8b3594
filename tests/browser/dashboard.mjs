// Drives the indus dashboard in headless Chromium: the live page at three
// widths (table, charts, filter, sort, keyboard focus, the "try it" form)
// with a dozen scenarios, and the static report from a file URL. Saves
// screenshots.
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
  // A name no other name contains, so that filtering by it leaves one row.
  const unique = names.find(n => names.filter(m => m.includes(n)).length === 1);
  for (const width of [2400, 1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors = [];
    page.on("pageerror", e => errors.push(e.message));
    const offsite = [];
    page.on("request", r => { if (!r.url().startsWith(url) && !r.url().startsWith("data:")) offsite.push(r.url()); });
    const res = await page.goto(url + "/");
    check(res.ok(), `${width}px: GET / answered ${res.status()}`);

    const listed = await page.$$eval("#scenarios tbody tr > :first-child", cs => cs.map(t => t.textContent.trim()));
    for (const n of names) check(listed.includes(n), `${width}px: table lists ${n} (found ${listed})`);
    const lines = await page.$$eval("#curve-loss svg polyline, #curve-loss svg path", e => e.length);
    check(lines > 0, `${width}px: the loss chart has lines`);

    // The overview overlays six scenarios, named beside the plot (x past
    // its 640 px), never over the curves; the others can be ticked.
    const ticked = await page.$$eval('input[name="curve"]:checked', c => c.length);
    check(ticked === 6, `${width}px: 6 of ${names.length} curves overlaid at first, got ${ticked}`);
    const legend = await page.$$eval("#curve-loss svg text", ts => ts.map(t => [t.textContent.trim(), +t.getAttribute("x")]));
    const named = legend.filter(([t]) => names.includes(t));
    check(named.length === 6 && named.every(([, x]) => x > 640), `${width}px: legend beside the plot, got ${JSON.stringify(named)}`);
    const own = await page.$$eval("figure.own-curve svg", s => s.length);
    check(own === names.length, `${width}px: each panel has its own curve (${own})`);

    // The table: the Target column is never cut; the scenario column stays
    // in view when the table scrolls sideways.
    const fit = await page.evaluate(() => {
      const region = document.querySelector(".scroll");
      const target = [...document.querySelectorAll("#scenarios thead th")].find(th => th.textContent.trim().startsWith("Target"));
      const r = region.getBoundingClientRect(), t = target.getBoundingClientRect();
      region.scrollLeft = region.scrollWidth;
      const first = document.querySelector("#scenarios tbody tr > :first-child").getBoundingClientRect();
      const out = { sideways: region.scrollWidth - region.clientWidth, targetRight: t.right - r.right, firstLeft: first.left - r.left };
      region.scrollLeft = 0;
      return out;
    });
    if (width >= 1280) check(fit.targetRight <= 1, `${width}px: the Target column is cut by ${fit.targetRight}px`);
    if (width === 2400) check(fit.sideways <= 1, `2400px: the table scrolls sideways by ${fit.sideways}px`);
    check(Math.abs(fit.firstLeft) <= 1, `${width}px: the scenario column scrolled away (${fit.firstLeft}px)`);

    // Labelled controls, reachable with the keyboard.
    const filter = page.getByLabel("Filter rows");
    await filter.focus();
    check(await filter.evaluate(el => el === document.activeElement), `${width}px: filter takes focus`);
    await page.keyboard.type(unique);
    const visible = await page.$$eval("#scenarios tbody tr", rs => rs.filter(r => !r.hidden).length);
    check(visible === 1, `${width}px: filtering "${unique}" leaves 1 row, got ${visible}`);
    await filter.fill("");
    await page.keyboard.press("Tab");
    const next = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
    check(next !== "BODY", `${width}px: Tab moves focus on from the filter`);

    // Sorting by scenario, descending on the second press.
    const sortBtn = page.locator('#scenarios th button[data-col="0"]');
    await sortBtn.click(); await sortBtn.click();
    const sorted = await page.$$eval("#scenarios tbody tr > :first-child", cs => cs.map(t => t.textContent.trim()));
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
