/**
 * Issue 13 (hygiene) finding 3: a config error names the field and the reason, never a
 * secret's value (web.token, passwords, nats.auth, a misspelt secret key, a JSON syntax
 * error next to one); URL values are shown with their credentials redacted. Through the
 * real CLI, as an operator runs it.
 */
import t from 'tap'
import { join } from 'node:path'
import { envWithoutVigil, runVigil } from '../../helpers/vigilProcess.js'

// Each run loads the CLI (seconds on a busy machine).
t.setTimeout(300_000)

const cleanEnv = envWithoutVigil
const vigil = (args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()) => runVigil(args, { cwd, env })

const SECRET_FRAGMENTS = ['tok-AAAA', 'tok-BBBB', 'tok-CCCC', 'pw-DDDD', 'pw-EEEE', 'pw-FFFF', 'hunter2', 'pw-GGGG', 'pw-HHHH', 'pw-IIII', 'hash-JJJJ']

t.test('config errors list path and reason, never a secret value', async (t) => {
  // `start` reads the config the same way; it runs for two of the cases (each run loads the CLI: seconds).
  const cases: Array<{ name: string; file: string; fields: string[]; start?: boolean }> = [
    { name: 'a misspelt secret key', file: JSON.stringify({ web: { token: 'tok-AAAA-0123456789', tokn: 'tok-BBBB-0123456789' } }), fields: ['web.tokn'], start: true },
    { name: 'web.token too short', file: JSON.stringify({ web: { token: 'tok-CCCC' } }), fields: ['web.token'] },
    { name: 'nats.auth of the wrong type', file: JSON.stringify({ nats: { auth: 'pw-DDDD' } }), fields: ['nats.auth'] },
    { name: 'a misspelt nats password', file: JSON.stringify({ nats: { auth: { user: 'u', password: 'pw-EEEE', pasword: 'pw-FFFF' } } }), fields: ['nats.auth.pasword'], start: true },
    { name: 'invalid JSON around a secret', file: '{"web":{"token":hunter2}}', fields: ['invalid JSON'] },
    { name: 'a camera URL with @ in its password', file: JSON.stringify({ camera: { source: 'http://admin:pw-GGGG@x@cam/s' } }), fields: ['camera.source'] },
    { name: 'an audio URL of an unknown scheme', file: JSON.stringify({ audio: { source: 'gopher://admin:pw@HHHH@cam/s?token=pw-HHHH' } }), fields: ['audio.source'] },
    { name: 'a bad server list with credentials', file: JSON.stringify({ nats: { servers: ['nats://u:pw-IIII@h:4222', 5] }, camera: { fps: 'x' } }), fields: ['nats.servers.1', 'camera.fps'] },
    { name: 'a user entry of the wrong shape', file: JSON.stringify({ web: { users: [{ name: 'a', passwordHash: 'hash-JJJJ', role: 'root' }, 'hash-JJJJ'] } }), fields: ['web.users'] },
  ]
  for (const c of cases) {
    const dir = t.testdir({ 'c.json': c.file })
    for (const cmd of c.start ? ['check-config', 'start'] : ['check-config']) {
      const run = await vigil([cmd, '--config', 'c.json'], dir, cleanEnv({ VIGIL_WEB_PORT: '0', VIGIL_NATS_PORT: '0', VIGIL_MQTT_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0', VIGIL_DATA_DIR: join(dir, 'var') }))
      t.equal(run.code, 2, `${c.name} (${cmd}): exit 2`)
      for (const field of c.fields) t.match(run.stderr, field, `${c.name} (${cmd}): ${field} named`)
      const out = run.stdout + run.stderr
      t.same(SECRET_FRAGMENTS.filter((s) => out.includes(s)), [], `${c.name} (${cmd}): no secret in ${JSON.stringify(run.stderr)}`)
    }
  }
})

t.test('check-config shows no secret: --json and the summary', async (t) => {
  const env = cleanEnv({
    VIGIL_WEB_TOKEN: 'tok-AAAA-0123456789',
    VIGIL_CAMERA_SOURCE: 'rtsp://admin:pw-GGGG@x@cam/s?sign=tok-BBBB',
    VIGIL_NATS_SERVERS: 'nats://u:pw-IIII@h:4222,nats://tok-CCCC@g:4222',
  })
  const dir = t.testdir({ 'c.json': JSON.stringify({ audio: { source: 'rtmp://m:pw-DDDD@mic/live' } }) })
  for (const args of [['check-config', '--config', 'c.json', '--json'], ['check-config', '--config', 'c.json']]) {
    const run = await vigil(args, dir, env)
    t.equal(run.code, 0, run.stderr)
    const out = run.stdout + run.stderr
    t.same(SECRET_FRAGMENTS.filter((s) => out.includes(s)), [], `${args.join(' ')}: ${out}`)
  }
  const json = JSON.parse((await vigil(['check-config', '--config', 'c.json', '--json'], dir, env)).stdout) as { camera: { source: string }; audio: { source: string }; web: { token: string } }
  t.equal(json.web.token, '(redacted)')
  t.equal(json.camera.source, 'rtsp://***@cam/s?sign=***')
  t.equal(json.audio.source, 'rtmp://***@mic/live')
})
