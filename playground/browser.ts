// Headless Chromium for the playground's test and its screenshot: Debian's
// `chromium` package driven by playwright-core (no browser download). The
// flags keep it off the network and out of the user's profile.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PIPEC_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser cannot run here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is missing (install Debian's chromium package, or set PIPEC_CHROMIUM)`;
}

/** A browser context on a fresh profile in the temp folder (playwright passes it as --user-data-dir). */
export function launchChromium(viewport = { width: 1400, height: 900 }): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'pipec-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
