import t from 'tap'
import { embeddedServerConf } from '../../../actors/nats/serverConf.js'
import { rigPermissions } from '../../../infra/nats/permissions.js'
import { generateNatsConfig, natsConfigProblem, type NatsConfigInput } from '../../../tools/natsConfig/generate.js'

const input = (over: Partial<NatsConfigInput> = {}): NatsConfigInput => ({
  rigs: [
    { name: 'a', publicKey: 'UAAAA' },
    { name: 'b', publicKey: 'UBBBB' },
  ],
  operators: [{ name: 'ops', publicKey: 'UOOOO' }],
  outDir: '/etc/vigil/nats',
  cluster: 1,
  host: '0.0.0.0',
  port: 4222,
  clusterPort: 6222,
  advertise: 'hub.lan',
  routePassword: 'route-secret',
  ...over,
})

t.test("a rig's permissions: its own subjects, its inboxes, discovery, replies; nothing of another rig", async (t) => {
  const p = rigPermissions('a')
  t.same(p.publish.slice(0, 2), ['vigil.a.>', '$KV.vigil_rigs.a'])
  // The recordings bucket (upload.enabled): its subjects and the three JetStream calls an upload makes, on that stream only;
  // the rigs bucket (vigil_rigs): what a KV watch takes, on that stream only.
  t.same(p.publish.slice(2), [
    '$O.vigil_recordings.>',
    '$JS.API.STREAM.INFO.OBJ_vigil_recordings',
    '$JS.API.STREAM.MSG.GET.OBJ_vigil_recordings',
    '$JS.API.STREAM.PURGE.OBJ_vigil_recordings',
    '$JS.API.STREAM.INFO.KV_vigil_rigs',
    '$JS.API.CONSUMER.CREATE.KV_vigil_rigs',
    '$JS.API.CONSUMER.CREATE.KV_vigil_rigs.>',
    '$JS.API.CONSUMER.INFO.KV_vigil_rigs.*',
    '$JS.API.CONSUMER.DELETE.KV_vigil_rigs.*',
    '$JS.FC.KV_vigil_rigs.>',
  ])
  t.same(p.subscribe.slice(0, 2), ['vigil.a.cmd.>', '_INBOX_a.>'])
  t.ok(p.subscribe.includes('$SRV.PING') && p.subscribe.includes('$SRV.INFO.vigil.*') && p.subscribe.includes('$SRV.STATS.vigil'), 'services API discovery')
  t.ok(p.allowResponses)
  const all = [...p.publish, ...p.subscribe]
  t.notOk(
    all.some((s) => /\bb\b/.test(s) || s.startsWith('vigil.*') || s === '>' || s.startsWith('_INBOX.') || (s.startsWith('$JS.') && !s.endsWith('.OBJ_vigil_recordings') && !s.includes('.KV_vigil_rigs'))),
    'no wildcard over rigs, no shared inbox, no stream admin beyond the recordings bucket and watching the rigs bucket',
  )
  t.notOk(all.some((s) => s.includes('KV_vigil_rigs') && /STREAM\.(CREATE|UPDATE|DELETE|PURGE)|MSG\.DELETE/.test(s)), 'nothing that changes the rigs bucket but its own key')
})

t.test('one server: the users, their permissions, JetStream, no anonymous user', async (t) => {
  const out = generateNatsConfig(input())
  t.equal(out.servers.length, 1)
  const conf = out.servers[0]!
  t.equal(conf.file, '/etc/vigil/nats/nats-server.conf')
  t.match(conf.text, /^listen: "0\.0\.0\.0:4222"$/m)
  t.match(conf.text, /store_dir: "\/etc\/vigil\/nats\/jetstream"/)
  t.match(conf.text, /\{ nkey: "UAAAA"\n\s+permissions: \{\n\s+publish: \{ allow: \["vigil\.a\.>", "\$KV\.vigil_rigs\.a", "\$O\.vigil_recordings\.>"/)
  t.match(conf.text, /subscribe: \{ allow: \["vigil\.b\.cmd\.>", "_INBOX_b\.>"/)
  t.match(conf.text, /allow_responses: true/)
  t.match(conf.text, /\{ nkey: "UOOOO" \}/, 'the operator: no permissions block, so everything')
  t.notMatch(conf.text, /no_auth_user\s*:/, 'no anonymous fallback')
  t.notMatch(conf.text, /cluster \{/)
  const settings = conf.text.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n')
  t.notMatch(settings, /password|token|seed|S[UA][A-Z2-7]{50,}/i, 'no secret in the server conf: public keys only')
})

t.test('an env file per identity: node (rigs), servers, seed file, CA', async (t) => {
  const out = generateNatsConfig(input({ tls: { cert: '/tls/s.pem', key: '/tls/s.key', ca: '/tls/ca.pem' } }))
  const a = out.envs.find((e) => e.name === 'a')!
  t.equal(a.file, '/etc/vigil/nats/a.env')
  t.equal(a.role, 'rig')
  t.match(a.text, /^VIGIL_NODE=a$/m)
  t.match(a.text, /^VIGIL_NATS_SERVERS=tls:\/\/hub\.lan:4222$/m)
  t.match(a.text, /^VIGIL_NATS_NKEY=\/etc\/vigil\/nats\/a\.nk$/m)
  t.match(a.text, /^VIGIL_NATS_CA=\/tls\/ca\.pem$/m)
  const ops = out.envs.find((e) => e.name === 'ops')!
  t.equal(ops.role, 'operator')
  t.notMatch(ops.text, /VIGIL_NODE/, "an operator's CLI keeps its own node")
  t.same(out.seedFiles, { a: '/etc/vigil/nats/a.nk', b: '/etc/vigil/nats/b.nk', ops: '/etc/vigil/nats/ops.nk' })
  t.match(out.servers[0]!.text, /tls \{\n\s+cert_file: "\/tls\/s\.pem"\n\s+key_file: "\/tls\/s\.key"/)
})

t.test('a cluster of 3: one conf each, routes to the others on loopback behind a password, own stores', async (t) => {
  const out = generateNatsConfig(input({ cluster: 3 }))
  t.same(out.servers.map((s) => s.file), [1, 2, 3].map((i) => `/etc/vigil/nats/nats-server-${i}.conf`))
  const second = out.servers[1]!.text
  t.match(second, /^server_name: "vigil-2"$/m)
  t.match(second, /^listen: "0\.0\.0\.0:4223"$/m)
  t.match(second, /store_dir: "\/etc\/vigil\/nats\/jetstream-2"/)
  t.match(second, /listen: "127\.0\.0\.1:6223"/)
  t.match(second, /routes: \["nats-route:\/\/route:route-secret@127\.0\.0\.1:6222", "nats-route:\/\/route:route-secret@127\.0\.0\.1:6224"\]/)
  t.match(second, /authorization \{ user: "route", password: "route-secret" \}/)
  t.match(out.envs[0]!.text, /^VIGIL_NATS_SERVERS=nats:\/\/hub\.lan:4222,nats:\/\/hub\.lan:4223,nats:\/\/hub\.lan:4224$/m)
})

t.test('names are node names, each once; at least one identity', async (t) => {
  const id = (name: string) => ({ name, publicKey: 'U' })
  t.match(natsConfigProblem({ rigs: [id('a.b')], operators: [], cluster: 1 }), /rig node names/)
  t.match(natsConfigProblem({ rigs: [id('a')], operators: [id('a')], cluster: 1 }), /each name once/)
  t.match(natsConfigProblem({ rigs: [], operators: [], cluster: 1 }), /--rigs/)
  t.match(natsConfigProblem({ rigs: [id('a')], operators: [], cluster: 0 }), /--cluster/)
  t.equal(natsConfigProblem({ rigs: [id('a')], operators: [], cluster: 3 }), undefined)
})

t.test("the embedded server's conf: the policy file plus an authorization block for the rig's credential", async (t) => {
  const policy = 'max_payload: 1MB\n'
  t.match(embeddedServerConf(policy, { nkey: 'UABC' }), /^max_payload: 1MB\n[\s\S]*authorization \{\n {2}users: \[ \{ nkey: "UABC" \} \]\n\}/)
  t.match(embeddedServerConf(policy, { token: 't"k$X' }), /token: "t\\"k\$X"/, 'quoted: no $VAR expansion, quotes escaped')
  t.match(embeddedServerConf(policy, { user: 'rig', password: 'pw' }), /user: "rig"\n {2}password: "pw"/)
})
