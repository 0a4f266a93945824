import t from 'tap'
import { runVigil } from '../../helpers/vigilProcess.js'
import { loginCookie, rawRequest, startWebRig } from '../../helpers/webRig.js'

const passwd = (args: string[], stdin: string) => runVigil(['passwd', ...args], { env: process.env, stdin })

t.test('vigil passwd: the password comes from stdin, the printed entry logs in', async (t) => {
  const password = 'a sentence only grandma knows'
  const run = await passwd(['--user', 'grandma', '--role', 'viewer'], `${password}\n`)
  t.equal(run.code, 0, run.stderr)
  const entry = JSON.parse(run.stdout) as { name: string; passwordHash: string; role: 'viewer' }
  t.match(entry, { name: 'grandma', role: 'viewer', passwordHash: /^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/ })
  t.notMatch(run.stdout + run.stderr, password, 'the password is not echoed')
  const other = await passwd([], `${password}\n`)
  t.not(other.stdout.trim(), entry.passwordHash, 'a fresh salt each time: the same password hashes differently')

  const rig = await startWebRig({ users: [entry] })
  t.teardown(() => rig.stop())
  const cookie = await loginCookie(rig.baseUrl, { user: 'grandma', password })
  t.equal((await rawRequest(rig.baseUrl, '/api/v1/state', { headers: { Cookie: cookie } })).status, 200, 'the hash logs in')
  const bad = await rawRequest(rig.baseUrl, '/api/v1/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'grandma', password: `${password}!` }) })
  t.equal(bad.status, 401, 'and only with that password')

  t.equal((await passwd([], 'short\n')).code, 1, 'a short password is refused')
  t.equal((await passwd(['--role', 'admin'], `${password}\n`)).code, 2, 'an unknown role is a usage error')
  t.equal((await passwd(['--password', password], '')).code, 2, 'there is no flag that takes the password')
})
