import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nkeys } from '@nats-io/transport-node'
import { loadConfig } from '../../../infra/config/load.js'
import { configProblems } from '../../helpers/configProblems.js'
import { natsCredentialOptions } from '../../../infra/nats/credentials.js'
import { envWithClientFlags } from '../../../tools/cli/natsArgs.js'

const seedText = () => new TextDecoder().decode(nkeys.createUser().getSeed())

const problems = configProblems

t.test('each VIGIL_NATS_* variable lands in nats.auth / nats.tls', async (t) => {
  const cwd = t.testdir({ 'rig.nk': seedText(), 'rig.creds': 'creds', 'ca.pem': 'ca' })
  const servers = { VIGIL_NATS_SERVERS: 'nats://hub:4222' }
  t.same(loadConfig({ cwd, env: { ...servers, VIGIL_NATS_USER: 'rig', VIGIL_NATS_PASSWORD: 'pw' } }).nats.auth, { user: 'rig', password: 'pw' })
  t.same(loadConfig({ cwd, env: { ...servers, VIGIL_NATS_TOKEN: 'tok' } }).nats.auth, { token: 'tok' })
  t.same(loadConfig({ cwd, env: { ...servers, VIGIL_NATS_NKEY: 'rig.nk' } }).nats.auth, { nkeySeedFile: join(cwd, 'rig.nk') }, 'a seed file, resolved against the cwd')
  t.same(loadConfig({ cwd, env: { ...servers, VIGIL_NATS_CREDS: 'rig.creds' } }).nats.auth, { credsFile: join(cwd, 'rig.creds') })
  t.same(loadConfig({ cwd, env: { ...servers, VIGIL_NATS_CA: 'ca.pem' } }).nats.tls, { ca: join(cwd, 'ca.pem') })
  t.equal(loadConfig({ cwd, env: {} }).nats.auth, undefined, 'no credential: none')
})

t.test("the env's credential replaces the file's as a whole", async (t) => {
  const cwd = t.testdir({ 'vigil.config.json': JSON.stringify({ nats: { servers: ['nats://hub:4222'], auth: { user: 'file', password: 'file-pw' } } }) })
  t.same(loadConfig({ cwd, env: { VIGIL_NATS_TOKEN: 'tok' } }).nats.auth, { token: 'tok' }, 'not "two kinds of credential"')
  t.same(loadConfig({ cwd, env: {} }).nats.auth, { user: 'file', password: 'file-pw' }, 'the file alone')
})

t.test('bad credentials are config errors that name the field or path, never the secret', async (t) => {
  const cwd = t.testdir({ 'not-a-seed.nk': 'SECRET-LOOKING-BUT-NOT-A-SEED' })
  const hub = { VIGIL_NATS_SERVERS: 'nats://hub:4222' }
  const missing = join(cwd, 'missing.nk')
  t.match(problems(() => loadConfig({ cwd, env: { ...hub, VIGIL_NATS_NKEY: 'missing.nk' } })), [`nats.auth.nkeySeedFile: cannot read ${missing} (ENOENT)`])
  const notSeed = problems(() => loadConfig({ cwd, env: { ...hub, VIGIL_NATS_NKEY: 'not-a-seed.nk' } }))
  t.match(notSeed, [/nats\.auth\.nkeySeedFile: .*not-a-seed\.nk does not hold an nkey user seed/])
  t.notMatch(notSeed.join('\n'), /SECRET-LOOKING/, 'the file content is never shown')
  t.match(problems(() => loadConfig({ cwd, env: { ...hub, VIGIL_NATS_CA: 'nope.pem' } })), [/nats\.tls\.ca: cannot read .*nope\.pem \(ENOENT\)/])
  t.match(problems(() => loadConfig({ cwd, env: { ...hub, VIGIL_NATS_USER: 'rig' } })), [/nats\.auth\.password: required with nats\.auth\.user/])
  const two = problems(() => loadConfig({ cwd, env: { ...hub, VIGIL_NATS_TOKEN: 'tok-secret-value', VIGIL_NATS_USER: 'u', VIGIL_NATS_PASSWORD: 'pw-secret-value' } }))
  t.match(two, [/nats\.auth: give only one of .* \(got user, token\)/])
  t.notMatch(two.join('\n'), /secret-value/)
  writeFileSync(join(cwd, 'vigil.config.json'), JSON.stringify({ nats: { servers: ['nats://hub:4222'], auth: { user: 'u', password: 12345678 } } }))
  const typed = problems(() => loadConfig({ cwd, env: {} }))
  t.match(typed, [/nats\.auth\.password: Expected string/])
  t.notMatch(typed.join('\n'), /12345678/, 'a wrong-typed password is not echoed either')
})

t.test('the embedded server: off loopback only with a credential; no creds file, no TLS', async (t) => {
  const cwd = t.testdir({ 'rig.nk': seedText(), 'rig.creds': 'x', 'ca.pem': 'x' })
  for (const host of ['0.0.0.0', '192.168.1.10', '::']) {
    t.match(problems(() => loadConfig({ cwd, env: {}, overrides: { nats: { host } } })), [/nats\.auth: required when the embedded nats-server binds nats\.host/], host)
    t.same(problems(() => loadConfig({ cwd, env: { VIGIL_NATS_NKEY: 'rig.nk' }, overrides: { nats: { host } } })), [], `${host} with an nkey`)
  }
  for (const host of ['127.0.0.1', 'localhost', '::1']) t.same(problems(() => loadConfig({ cwd, env: {}, overrides: { nats: { host } } })), [], `${host}: anonymous demo`)
  t.match(problems(() => loadConfig({ cwd, env: { VIGIL_NATS_CREDS: 'rig.creds' } })), [/nats\.auth\.credsFile: a creds file is for a JWT-based cluster/])
  t.match(problems(() => loadConfig({ cwd, env: { VIGIL_NATS_CA: 'ca.pem' } })), [/nats\.tls: only for nats\.servers/])
})

t.test('connect options: each credential, TLS files, and the per-rig inbox prefix', async (t) => {
  const cwd = t.testdir({ 'rig.nk': seedText() })
  const hub = { VIGIL_NATS_SERVERS: 'nats://hub:4222' }
  const opts = (env: Record<string, string>, node?: string) => natsCredentialOptions(loadConfig({ cwd, env: { ...hub, ...env } }).nats, node)
  t.same(opts({ VIGIL_NATS_USER: 'u', VIGIL_NATS_PASSWORD: 'p' }), { user: 'u', pass: 'p' })
  t.same(opts({ VIGIL_NATS_TOKEN: 'tok' }), { token: 'tok' })
  t.type(opts({ VIGIL_NATS_NKEY: 'rig.nk' }).authenticator, 'function', 'an nkey signs the nonce')
  t.same(opts({}, 'barn').inboxPrefix, '_INBOX_barn', "a rig's replies come to its own inboxes")
  const tlsCwd = t.testdir({ 'ca.pem': 'x', 'c.pem': 'x', 'c.key': 'x' })
  const withTls = natsCredentialOptions(loadConfig({ cwd: tlsCwd, env: hub, overrides: { nats: { tls: { ca: 'ca.pem', cert: 'c.pem', key: 'c.key' } } } }).nats)
  t.same(withTls.tls, { caFile: join(tlsCwd, 'ca.pem'), certFile: join(tlsCwd, 'c.pem'), keyFile: join(tlsCwd, 'c.key') })
})

t.test('CLI flags stand for their variables and replace the env login', async (t) => {
  const env = { VIGIL_NATS_TOKEN: 'tok', VIGIL_NATS_PASSWORD: 'pw', OTHER: 'x' }
  t.same(envWithClientFlags(env, { nkey: '/k.nk' }), { VIGIL_NATS_NKEY: '/k.nk', OTHER: 'x' }, '--nkey drops the token and password')
  t.same(envWithClientFlags(env, { user: 'ops' }), { VIGIL_NATS_USER: 'ops', VIGIL_NATS_PASSWORD: 'pw', OTHER: 'x' }, '--user keeps its password from the env')
  t.same(envWithClientFlags(env, { ca: '/ca.pem', server: ['tls://h:4222', 'tls://i:4222'] }), { ...env, VIGIL_NATS_CA: '/ca.pem', VIGIL_NATS_SERVERS: 'tls://h:4222,tls://i:4222' })
  t.same(envWithClientFlags(env, {}), env, 'no flags: the env as it is')
})
