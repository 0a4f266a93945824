/**
 * Fault: invalid configuration given to `vigil start`, through the file and through
 * VIGIL_* environment variables (test/integration/config covers the file cases with
 * check-config and one start case). The rig must not start: exit 2 at once, every
 * bad field listed on stderr, nothing left running.
 */
import t from 'tap'
import { join } from 'node:path'
import { envWithoutVigil, runVigil } from '../helpers/vigilProcess.js'


const cleanEnv = (extra: Record<string, string>, dir: string) => envWithoutVigil({ VIGIL_DATA_DIR: join(dir, 'data'), ...extra })

/** A start that should refuse but runs the rig instead is a failure (killed at the limit), not a stuck suite. */
const start = (args: string[], cwd: string, env: NodeJS.ProcessEnv) => runVigil(['start', ...args], { cwd, env })

const cases: { name: string; file?: unknown; env?: Record<string, string>; fields: string[] }[] = [
  { name: 'env ints that are not ints', env: { VIGIL_NATS_PORT: 'abc', VIGIL_WEB_PORT: '12.5', VIGIL_MEDIA_RTMP_PORT: '-1', VIGIL_MEDIA_HTTP_PORT: '0x50' }, fields: ['VIGIL_NATS_PORT', 'VIGIL_WEB_PORT', 'VIGIL_MEDIA_RTMP_PORT', 'VIGIL_MEDIA_HTTP_PORT'] },
  { name: 'env int out of range', env: { VIGIL_WEB_PORT: '99999' }, fields: ['web.port'] },
  { name: 'env enum out of range', env: { VIGIL_LOG_LEVEL: 'loud' }, fields: ['logs.level'] },
  { name: 'non-loopback host from env, no token', env: { VIGIL_WEB_HOST: '0.0.0.0' }, fields: ['web.token'] },
  { name: 'non-loopback host from file, no token', file: { web: { host: '192.0.2.1' } }, fields: ['web.token'] },
  { name: 'file bad types + unknown keys + env errors, all listed together', file: { camera: { fps: 'x' }, nats: { port: 1.5 }, bogus: 1, web: { hots: 'typo' } }, env: { VIGIL_NATS_PORT: 'abc', VIGIL_LOG_LEVEL: 'loud' }, fields: ['camera.fps', 'nats.port', 'bogus', 'web.hots', 'VIGIL_NATS_PORT', 'logs.level'] },
]

for (const c of cases) {
  t.test(`start refuses: ${c.name}`, async (t) => {
    const dir = t.testdir(c.file === undefined ? {} : { 'bad.json': JSON.stringify(c.file) })
    const run = await start(c.file === undefined ? [] : ['--config', 'bad.json'], dir, cleanEnv(c.env ?? {}, dir))
    t.equal(run.code, 2, `exit 2\n${run.stderr}`)
    t.match(run.stderr, /invalid configuration/, 'says the configuration is invalid')
    for (const f of c.fields) t.match(run.stderr, new RegExp(`^  - ${f.replace(/\./g, '\\.')}: `, 'm'), `${f} listed`)
    const listed = run.stderr.split('\n').filter((l) => l.startsWith('  - ')).length
    t.equal(listed, c.fields.length, `exactly the ${c.fields.length} bad field(s) listed`)
  })
}
