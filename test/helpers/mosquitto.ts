import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Test } from 'tap'

/** One message as mosquitto_sub prints it with `-F '%r\t%t\t%p'`: retained flag, topic, payload. */
export interface MqttSeen {
  retained: boolean
  topic: string
  payload: string
  /** When this process read the line (ms, Date.now()). */
  receivedAt: number
}

export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
export const hasMosquittoSub = () => existsSync(MOSQUITTO_SUB)

const SETPRIV = '/usr/bin/setpriv'
const FORMAT = '%r\t%t\t%p'

function parseLine(line: string, receivedAt: number): MqttSeen | null {
  const [r, topic, ...rest] = line.split('\t')
  if (topic === undefined) return null
  return { retained: r === '1', topic, payload: rest.join('\t'), receivedAt }
}

export interface MqttSubscriber {
  seen: MqttSeen[]
  pid: number
  /** Resolves when the process has exited (the test reaps it). */
  exited: Promise<number | null>
  stop(): Promise<void>
  stderr(): string
}

/**
 * A real `mosquitto_sub` (Debian mosquitto-clients) the test owns: killed and reaped in
 * teardown, and dying with the test process if that is killed (pdeathsig).
 */
export function mosquittoSub(t: Test, opts: { port: number; topic: string; count?: number; waitS?: number; extra?: string[] }): MqttSubscriber {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-t', opts.topic, '-F', FORMAT, '-q', '0']
  if (opts.count !== undefined) args.push('-C', String(opts.count))
  if (opts.waitS !== undefined) args.push('-W', String(opts.waitS))
  args.push(...(opts.extra ?? []))
  const [file, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', MOSQUITTO_SUB, ...args]] : [MOSQUITTO_SUB, args]
  const child: ChildProcess = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  const seen: MqttSeen[] = []
  let buffered = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    const now = Date.now()
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      const m = parseLine(line, now)
      if (m) seen.push(m)
    }
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => void (stderr = (stderr + chunk).slice(-4000)))
  const exited = new Promise<number | null>((res) => {
    child.once('exit', (code) => res(code))
    child.once('error', () => res(null))
  })
  let alive = true
  void exited.then(() => (alive = false))
  const stop = async () => {
    if (alive) child.kill('SIGTERM')
    await exited
  }
  t.teardown(stop)
  return { seen, pid: child.pid ?? -1, exited, stop, stderr: () => stderr }
}
