import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { probeWebHealth } from '../../../actors/web/probe.js'
import { loginCookie, rawRequest, startWebRig, TEST_TOKEN } from '../../helpers/webRig.js'

/**
 * web.tls (DESIGN.md §9.1): a self-signed certificate made once under <data>/tls/,
 * private, reused on restart, its fingerprint logged; the cookie is Secure and HSTS
 * is sent. A non-loopback bind gets this by default (`auto`); tests bind loopback
 * and ask for the self-signed mode directly (webTlsMode's choice is unit-tested).
 */

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { log, lines }
}

const fingerprintLines = (lines: Array<Record<string, unknown>>) => lines.filter((l) => typeof l['fingerprint256'] === 'string')

t.test('TLS auto: a kept self-signed certificate, private files, the fingerprint logged, HTTPS with it as CA', async (t) => {
  const dir = join(t.testdir(), 'tls')
  const first = capturingLogger()
  const rig = await startWebRig({ token: TEST_TOKEN, tls: { kind: 'self-signed', dir }, log: first.log })
  t.match(rig.baseUrl, /^https:/)

  t.equal((await stat(dir)).mode & 0o777, 0o700, 'tls dir 0700')
  t.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600, 'key 0600')
  const cert = await readFile(join(dir, 'cert.pem'), 'utf8')
  const x509 = new X509Certificate(cert)
  for (const name of ['DNS:localhost', 'IP Address:127.0.0.1']) t.match(x509.subjectAltName ?? '', name, `SAN ${name}`)
  const logged = fingerprintLines(first.lines)
  t.equal(logged.length, 1, 'the fingerprint is logged once per start')
  t.equal(logged[0]?.['fingerprint256'], x509.fingerprint256, 'the logged fingerprint is the certificate’s SHA-256')
  t.equal(logged[0]?.['created'], true)
  t.notMatch(JSON.stringify(first.lines), /PRIVATE KEY/, 'the key never reaches the log')

  const health = await rawRequest(rig.baseUrl, '/health', { ca: cert })
  t.equal(health.status, 200, 'HTTPS with the certificate as the only CA')
  t.match(String(health.headers['strict-transport-security']), /max-age=\d+/, 'HSTS under TLS')
  const untrusted = await rawRequest(rig.baseUrl, '/health').then(
    () => 'accepted',
    (err: NodeJS.ErrnoException) => err.code ?? 'error',
  )
  t.not(untrusted, 'accepted', 'a client that does not trust it refuses it (it is not silently valid)')
  const cookie = await rawRequest(rig.baseUrl, '/api/v1/login', { method: 'POST', ca: cert, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TEST_TOKEN }) })
  t.match(String([cookie.headers['set-cookie']].flat()[0]), /; Secure(;|$)/, 'the session cookie is Secure under TLS')
  const session = await loginCookie(rig.baseUrl, { token: TEST_TOKEN }, { ca: cert })
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { ca: cert, headers: { Cookie: session } })).status, 200)
  await t.resolves(probeWebHealth({ host: '127.0.0.1', port: rig.port }, { timeoutMs: 5000, tls: true }), 'the web’s own health probe speaks TLS')
  await rig.stop()

  const second = capturingLogger()
  const again = await startWebRig({ token: TEST_TOKEN, tls: { kind: 'self-signed', dir }, log: second.log })
  t.teardown(() => again.stop())
  t.equal(await readFile(join(dir, 'cert.pem'), 'utf8'), cert, 'the same certificate after a restart')
  t.match(fingerprintLines(second.lines), [{ fingerprint256: x509.fingerprint256, created: false }], 'same fingerprint, reused')
  t.equal((await rawRequest(again.baseUrl, '/health', { ca: cert })).status, 200, 'a browser exception made once still holds')
})
