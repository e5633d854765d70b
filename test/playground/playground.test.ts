// The playground as a user meets it: built with its own script, served on
// 127.0.0.1 and driven in headless Chromium. Typing an error draws a
// squiggle under it and lists the message; fixing it draws the timeline; the
// shared link reopens the same program; the screenshot is not blank.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildPlayground, type PlaygroundBuild } from '../../playground/build.ts';
import { chromiumMissing, launchChromium } from '../../playground/browser.ts';
import { serveStatic } from '../../playground/serve.ts';

const missing = chromiumMissing();
if (missing !== undefined) console.log(`skipping the playground's browser test: ${missing}`);

describe.skipIf(missing !== undefined)('playground in headless Chromium', () => {
  let built: PlaygroundBuild;
  let server: Server;
  let url: string;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    built = await buildPlayground();
    ({ server, url } = await serveStatic(built.outdir));
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Everything is bundled: any request off this server is a bug.
    await page.route((target) => !target.href.startsWith(url), (route) => {
      pageErrors.push(`request off the server: ${route.request().url()}`);
      return route.abort();
    });
    await page.goto(url);
    await page.waitForSelector('body[data-state=ready]');
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  const settled = () => page.waitForSelector('body[data-state=ready]');

  async function replaceInEditor(find: string, typed: string): Promise<void> {
    const start = await page.locator('#code').evaluate((area: HTMLTextAreaElement, text) => area.value.indexOf(text), find);
    expect(start).toBeGreaterThanOrEqual(0);
    await page.locator('#code').evaluate((area: HTMLTextAreaElement, [from, to]) => {
      area.focus();
      area.setSelectionRange(from, to);
    }, [start, start + find.length]);
    await page.keyboard.type(typed);
    await page.waitForSelector('body[data-state=pending]', { state: 'detached' }).catch(() => undefined);
    await settled();
  }

  it('opens on a sample with its timeline and table', async () => {
    expect(await page.locator('#sample option').allTextContents()).toContain('gpt.pipe');
    expect(await page.locator('#schedule option').allTextContents()).toEqual(expect.arrayContaining(['1f1b', 'zb_v', 'dualpipe_v']));
    expect(await page.locator('#timeline svg').count()).toBe(1);
    expect(await page.locator('#devices tbody tr').count()).toBe(4);
    expect(await page.locator('#diagnostics').textContent()).toContain('no problems');
  });

  it('squiggles a typed error and lists its message', async () => {
    await replaceInEditor('Dense(units: 10)', 'Dens(units: 10)');
    const squiggle = page.locator('#overlay .squiggle.error');
    expect(await squiggle.count()).toBe(1);
    expect(await squiggle.textContent()).toBe('Dens');
    expect(await squiggle.getAttribute('data-code')).toBe('PIPE2003');
    const listed = await page.locator('#diagnostics li.diagnostic').allTextContents();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toContain("main.pipe:11:15: error PIPE2003: unknown layer type 'Dens'");
    expect(listed[0]).toContain("hint: did you mean 'Dense'?");
    // The overlay lays text out as the textarea does: the squiggle sits on line 11, under 'Dens'.
    const box = (await squiggle.boundingBox())!;
    const layout = await page.locator('#code').evaluate((area: HTMLTextAreaElement) => {
      const style = getComputedStyle(area);
      return { top: area.getBoundingClientRect().top + parseFloat(style.paddingTop) - area.scrollTop, lineHeight: parseFloat(style.lineHeight) };
    });
    expect(box.y).toBeCloseTo(layout.top + 10 * layout.lineHeight, -1);
    expect(box.width).toBeGreaterThan(10);
    expect(await page.locator('#timeline').getAttribute('class')).toContain('stale');
  });

  it('draws the timeline again once the error is fixed', async () => {
    await replaceInEditor('Dens(units: 10)', 'Dense(units: 10)');
    expect(await page.locator('#overlay .squiggle').count()).toBe(0);
    expect(await page.locator('#timeline svg rect').count()).toBeGreaterThan(20);
    expect(await page.locator('#timeline').getAttribute('class')).not.toContain('stale');
    expect(await page.locator('#title').textContent()).toMatch(/schedule 1f1b .* makespan [\d.]+ ms, bubble [\d.]+%/);
  });

  it('draws a built-in schedule instead of the program\'s own, and the link keeps both', async () => {
    await page.selectOption('#schedule', 'gpipe');
    await settled();
    expect(await page.locator('#title').textContent()).toContain('schedule gpipe');
    const shared = page.url();
    expect(shared).toMatch(/#code=[\w-]+&schedule=gpipe$/);
    const second = await browser.newPage();
    await second.goto(shared);
    await second.waitForSelector('body[data-state=ready]');
    expect(await second.locator('#code').inputValue()).toBe(await page.locator('#code').inputValue());
    expect(await second.locator('#schedule').inputValue()).toBe('gpipe');
    await second.close();
  });

  it('loads every sample without an error', async () => {
    for (const name of await page.locator('#sample option').allTextContents()) {
      await page.selectOption('#sample', name);
      await settled();
      expect(await page.locator('#diagnostics li.error').allTextContents(), name).toEqual([]);
      expect(await page.locator('#timeline svg').count(), name).toBe(1);
    }
  });

  it('serves the syntax diagrams with no network', async () => {
    const diagrams = await browser.newPage();
    await diagrams.route((target) => !target.href.startsWith(url), (route) => route.abort());
    await diagrams.goto(`${url}syntax-diagrams.html`);
    await diagrams.waitForSelector('#diagrams svg');
    expect(await diagrams.locator('#diagrams svg').count()).toBeGreaterThan(20);
    await diagrams.close();
  });

  it('renders a screenshot that is not blank', async () => {
    await page.selectOption('#sample', 'gpt.pipe');
    await settled();
    const saved = join(mkdtempSync(join(tmpdir(), 'pipec-playground-')), 'playground.png');
    const png = await page.screenshot({ path: saved });
    expect(readFileSync(saved).equals(png)).toBe(true);
    // Decode the PNG in the page's own canvas and count its colours.
    const colours = await page.evaluate(async (base64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = new OffscreenCanvas(image.width, image.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const pixels = context.getImageData(0, 0, image.width, image.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < pixels.length; i += 4) seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
      return { width: image.width, height: image.height, distinct: seen.size };
    }, png.toString('base64'));
    expect(colours.width).toBe(1400);
    expect(colours.distinct).toBeGreaterThan(50);
    expect(pageErrors).toEqual([]);
  });
});
