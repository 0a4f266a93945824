import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { envWithoutVigil, repoRoot } from './vigilProcess.js'

export interface LightRigProcess {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const SETPRIV = '/usr/bin/setpriv'

/**
 * test/helpers/lightRigMain.ts in a process of its own, from an env file's values (its
 * identity, node, servers). Dies with this process (pdeathsig); the teardown kills it if
 * it is still alive and removes its data dir.
 */
export async function startLightRigProcess(t: Test, env: Record<string, string>, extra: Record<string, string> = {}): Promise<LightRigProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-lightrig-'))
  const argv = ['--import', 'tsx', join(repoRoot, 'test/helpers/lightRigMain.ts')]
  const [file, args] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, ...argv]] : [process.execPath, argv]
  const child = spawn(file, args, { cwd: repoRoot, env: envWithoutVigil({ ...env, ...extra, VIGIL_DATA_DIR: dataDir }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    await rm(dataDir, { recursive: true, force: true })
  })
  return { child, output: () => out, exited }
}
