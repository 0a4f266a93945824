import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { Test } from 'tap'

/** Debian's chromium (installed by `.ci/run`); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'

/** `false` when Chromium is there, else the reason to skip (for tap's `skip`). */
export const chromiumSkip: false | string = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH or install Debian's chromium)`

export interface OpenBrowser {
  context: BrowserContext
  page: Page
  /** Uncaught errors raised in the page. */
  pageErrors: string[]
  /** console.error / console.warn lines from the page. */
  consoleProblems: string[]
}

/**
 * Headless Chromium with a fresh user-data-dir, closed (and the dir removed) in
 * the test's teardown. Flags keep it quiet and deterministic on a CI box: no
 * sandbox (containers), no GPU, no background network, autoplay allowed so a
 * muted live video starts without a gesture.
 */
export async function openBrowser(t: Test, opts: { viewport?: { width: number; height: number }; args?: string[] } = {}): Promise<OpenBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'vigil-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--no-first-run',
      '--mute-audio',
      '--autoplay-policy=no-user-gesture-required',
      ...(opts.args ?? []),
    ],
  }).catch(async (err: unknown) => {
    await rm(userDataDir, { recursive: true, force: true })
    throw err
  })
  t.teardown(async () => {
    await context.close().catch(() => {})
    await rm(userDataDir, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const pageErrors: string[] = []
  const consoleProblems: string[] = []
  // With the top of its stack: a minified library's message alone can be one letter.
  page.on('pageerror', (err) => pageErrors.push(err.stack ? `${err.message} @ ${err.stack.split('\n').slice(0, 4).join(' | ')}` : err.message))
  page.on('response', (res) => {
    if (res.status() >= 400) consoleProblems.push(`HTTP ${res.status()} ${res.url()}`)
  })
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') consoleProblems.push(`${msg.type()}: ${msg.text()}${msg.location().url ? ` (${msg.location().url})` : ''}`)
  })
  return { context, page, pageErrors, consoleProblems }
}
