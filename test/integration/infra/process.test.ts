import t from 'tap'
import { ProcessOwner } from '../../../infra/process.js'
import { resolveFfmpeg } from '../../../infra/binaries.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

t.test('stop() of a SIGSTOPped ffmpeg: it exits on the SIGTERM (woken by SIGCONT), not at the SIGKILL after the grace', async (t) => {
  const ffmpeg = await resolveFfmpeg(process.env)
  if (!ffmpeg) throw new Error('ffmpeg not found')
  const owner = new ProcessOwner()
  t.teardown(() => owner.killAll())
  // ffmpeg handles SIGTERM itself, so a stopped one keeps the signal pending until continued.
  const p = owner.spawn(ffmpeg.path, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=15', '-f', 'null', '-'], { name: 'frozen' })
  t.ok(p.pid > 0 && isAlive(p.pid), `ffmpeg ${p.pid} runs`)
  await new Promise((r) => setTimeout(r, 500))
  process.kill(p.pid, 'SIGSTOP')
  await waitFor(async () => (await import('node:fs/promises')).readFile(`/proc/${p.pid}/stat`, 'utf8').then((s) => s.split(') ')[1]?.startsWith('T') ?? false), 5000, 'state T (stopped)')
  const exit = await p.stop(20_000)
  t.not(exit.reason, 'killed by SIGKILL', `ended by the SIGTERM: ${exit.reason}`)
  t.notOk(isAlive(p.pid), 'gone')
})
