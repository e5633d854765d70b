// Writes docs/img/playground.png, the README's picture of the playground: the
// GPT sample with one typed mistake, its squiggle and message, and the
// timeline of the last version that compiled.
// Run: node playground/screenshot.ts

import { fileURLToPath } from 'node:url';
import { buildPlayground } from './build.ts';
import { launchChromium } from './browser.ts';
import { serveStatic } from './serve.ts';

const target = fileURLToPath(new URL('../docs/img/playground.png', import.meta.url));
const { outdir } = await buildPlayground();
const { server, url } = await serveStatic(outdir);
const browser = await launchChromium({ width: 1400, height: 820 });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-state=ready]');
  const area = page.locator('#code');
  const start = await area.evaluate((element: HTMLTextAreaElement) => element.value.indexOf('Dense(units: 10)'));
  await area.evaluate((element: HTMLTextAreaElement, from) => {
    element.focus();
    element.setSelectionRange(from, from + 'Dense'.length);
  }, start);
  await page.keyboard.type('Dens');
  await page.waitForSelector('#overlay .squiggle');
  await page.waitForSelector('body[data-state=ready]');
  await area.evaluate((element: HTMLTextAreaElement) => {
    element.blur();
    element.scrollTop = 0;
    element.dispatchEvent(new Event('scroll'));
  });
  await page.screenshot({ path: target });
  console.log(`wrote ${target}`);
} finally {
  await browser.close();
  server.close();
}
