import t from 'tap'
import { allowedHosts, hostAllowed, originAllowed } from '../../../../actors/web/security/hostAllowList.js'

t.test('the allow-list: loopback names and the bind, each with the port, plus web.allowedHosts', async (t) => {
  const list = allowedHosts({ port: 8080, bindHost: '192.168.1.20', extra: ['rig.lan', 'Cam.Local:9000', '::1', '[fe80::1]', ''] })
  t.same([...list].sort(), ['127.0.0.1:8080', '192.168.1.20:8080', '[::1]:8080', '[fe80::1]:8080', 'cam.local:9000', 'localhost:8080', 'rig.lan:8080'].sort())
  t.same([...allowedHosts({ port: 8080, bindHost: '0.0.0.0' })].sort(), ['127.0.0.1:8080', '[::1]:8080', 'localhost:8080'].sort(), 'a wildcard names no host')
  t.ok(allowedHosts({ port: 8080, bindHost: '::' }).size === 3)
  t.ok(allowedHosts({ port: 443, bindHost: 'rig.lan' }).has('rig.lan'), 'the default port may be left out, as browsers do')
})

t.test('hostAllowed: exact, case-insensitive, port included', async (t) => {
  const list = allowedHosts({ port: 8080, bindHost: '127.0.0.1', extra: ['rig.lan'] })
  t.ok(hostAllowed('LOCALHOST:8080', list))
  t.ok(hostAllowed('rig.lan:8080', list))
  for (const bad of [undefined, '', 'evil.example:8080', 'localhost', 'localhost:8081', 'rig.lan.evil.example:8080', 'localhost.:8080', '127.0.0.1:8080@evil']) {
    t.notOk(hostAllowed(bad, list), String(bad))
  }
})

t.test('originAllowed: the page itself, or no Origin at all (not a browser)', async (t) => {
  t.ok(originAllowed(undefined, '127.0.0.1:8080'))
  t.ok(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080'))
  t.ok(originAllowed('https://LOCALHOST:8080', 'localhost:8080'))
  t.ok(originAllowed('https://rig.lan', 'rig.lan:443'), 'default port on one side only')
  t.notOk(originAllowed('http://evil.example', '127.0.0.1:8080'))
  t.notOk(originAllowed('http://127.0.0.1:9999', '127.0.0.1:8080'))
  t.notOk(originAllowed('null', '127.0.0.1:8080'), 'a sandboxed or file: page')
  t.notOk(originAllowed('chrome-extension://abc', 'abc'))
  t.notOk(originAllowed('http://127.0.0.1:8080', undefined))
})
