import { X509Certificate } from 'node:crypto'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import { isLoopback } from '../../../infra/config/load.js'

/**
 * HTTPS for the web server (DESIGN.md §9.1). `auto` is on for a non-loopback bind:
 * a token or a session cookie sent in clear over the LAN is a token for anyone
 * listening. The self-signed certificate is made once and kept, so a browser's
 * exception and a pinned fingerprint survive restarts.
 */

export type WebTlsSetting = 'auto' | 'off' | { cert: string; key: string }

export type WebTlsMode = { kind: 'off' } | { kind: 'self-signed'; dir: string } | { kind: 'files'; cert: string; key: string }

export interface WebTls {
  cert: string
  key: string
  /** SHA-256 of the DER certificate, `AB:CD:…` (what browsers show). */
  fingerprint256: string
  /** Made this time (not reused). */
  created: boolean
}

export function webTlsMode(setting: WebTlsSetting, bindHost: string, dataDir: string): WebTlsMode {
  if (setting === 'off') return { kind: 'off' }
  if (setting === 'auto') return isLoopback(bindHost) ? { kind: 'off' } : { kind: 'self-signed', dir: join(dataDir, 'tls') }
  return { kind: 'files', cert: setting.cert, key: setting.key }
}

const WILDCARD = new Set(['0.0.0.0', '::', ''])
/** Ten years: a rig on a shelf must not stop serving because a date passed unnoticed. */
const VALID_MS = 10 * 365 * 24 * 60 * 60 * 1000

function altNames(bindHost: string): Array<{ type: 2; value: string } | { type: 7; ip: string }> {
  const names = new Set(['localhost', hostname().toLowerCase()])
  const ips = new Set(['127.0.0.1', '::1'])
  const bind = bindHost.replace(/^\[|\]$/g, '')
  if (!WILDCARD.has(bind)) (isIP(bind) ? ips : names).add(bind.toLowerCase())
  return [...[...names].map((value) => ({ type: 2 as const, value })), ...[...ips].map((ip) => ({ type: 7 as const, ip }))]
}

async function readPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string } | null> {
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Written aside and renamed: a crash mid-write never leaves half a key that the next start would trust. */
async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  await rename(tmp, path)
}

async function selfSigned(dir: string, bindHost: string, now: Date): Promise<WebTls> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  const kept = await readPair(certPath, keyPath)
  if (kept !== null) {
    const x509 = new X509Certificate(kept.cert)
    if (new Date(x509.validTo) > now) return { ...kept, fingerprint256: x509.fingerprint256, created: false }
  }
  const made = await generate([{ name: 'commonName', value: `vigil ${hostname()}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + VALID_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: altNames(bindHost) },
    ],
  })
  await writePrivate(keyPath, made.private)
  await writePrivate(certPath, made.cert)
  return { cert: made.cert, key: made.private, fingerprint256: new X509Certificate(made.cert).fingerprint256, created: true }
}

/** The cert and key to serve with, or null for plain HTTP. */
export async function loadWebTls(mode: WebTlsMode, opts: { bindHost: string; now?: Date }): Promise<WebTls | null> {
  if (mode.kind === 'off') return null
  if (mode.kind === 'self-signed') return selfSigned(mode.dir, opts.bindHost, opts.now ?? new Date())
  const pair = await readPair(mode.cert, mode.key)
  if (pair === null) throw Object.assign(new Error(`web.tls: cannot read ${mode.cert} or ${mode.key} (VIGIL_WEB_TLS_CERT, VIGIL_WEB_TLS_KEY)`), { code: 'VIGIL_TLS_FILES' })
  return { ...pair, fingerprint256: new X509Certificate(pair.cert).fingerprint256, created: false }
}
