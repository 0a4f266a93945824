/**
 * `vigil service print` through the real CLI, checked by systemd's own verifier
 * (`systemd-analyze verify`, Debian's systemd package): every key known, every value
 * valid, ExecStart's binary there (the unit points at this checkout's node and bin/vigil.js).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { findOnPath } from '../../../infra/binaries.js'
import { envWithoutVigil, runVigil } from '../../helpers/vigilProcess.js'

const analyze = findOnPath('systemd-analyze', process.env, ['/usr/bin', '/bin'])

t.test('the printed unit passes systemd-analyze verify', { skip: analyze ? false : 'systemd-analyze not found (apt-get install systemd)' }, async (t) => {
  const dir = t.testdir({ 'vigil.config.json': JSON.stringify({ shutdown: { timeoutMs: 20000 } }) })
  const data = join(dir, 'data')
  await mkdir(data)
  const printed = await runVigil(['service', 'print', '--user', 'vigil', '--data-dir', data, '--config', join(dir, 'vigil.config.json')], { cwd: dir, env: envWithoutVigil() })
  t.equal(printed.code, 0, printed.stderr)
  t.match(printed.stdout, /^TimeoutStopSec=30s$/m, 'TimeoutStopSec from the config\'s shutdown.timeoutMs (20 s + 10)')
  t.match(printed.stdout, /^Type=notify$/m)
  // verify wants the unit's own name, and reads the file where it is.
  const unit = join(dir, 'vigil.service')
  await writeFile(unit, printed.stdout)
  const verify = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(analyze!, ['verify', '--man=no', unit], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  )
  t.comment(verify.out.trim() || '(no output)')
  t.equal(verify.code, 0, 'systemd-analyze verify exits 0')
  // Warnings (an unknown key, a bad value) exit 0 too: none may name our unit.
  t.same(verify.out.split('\n').filter((l) => l.includes('vigil.service')), [], 'no warning about vigil.service')
})
