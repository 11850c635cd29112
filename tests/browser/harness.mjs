// Shared browser-test harness: starts `trellis demo` on a free port with a fresh data folder,
// launches Debian's Chromium headless through playwright-core (which gives it a fresh profile
// folder of its own each launch), and cleans both up.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const PASSWORD = 'trellis-demo-2026';
export const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(base, server) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`trellis exited early with ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('trellis did not become healthy within 120 s');
}

export async function startTrellis() {
  const bin = process.env.TRELLIS_BIN;
  if (!bin) throw new Error('TRELLIS_BIN is not set; run tests/browser/run');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-browser-'));
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['demo', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHealth(base, server);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    base,
    browser,
    async stop() {
      await browser.close();
      server.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function signIn(page, base, username, landing = '/dashboard') {
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}${landing}`);
}

// A day in the demo clinic's time zone as a form field takes it (YYYY-MM-DD), `offset` days
// from today: the server judges "today" and "in the future" there, so UTC's date (a day ahead
// every New York evening) was refused as future-dated from 00:00 to 05:00 UTC.
export function clinicDay(offset = 0) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(
    new Date(Date.now() + offset * 86_400_000),
  );
}
