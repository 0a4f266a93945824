import { spawn, execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { findOnPath } from '../../infra/binaries.js'
import { waitFor } from './wait.js'

/** One datagram as the receiver saw it: its CLOCK_MONOTONIC arrival (ms) and its assignments. */
export interface Datagram {
  at: number
  fields: Record<string, string>
  raw: string
}

export interface NotifyReceiver {
  /** The NOTIFY_SOCKET path. */
  socket: string
  pid: number
  datagrams: Datagram[]
  /** Waits for a datagram (already received or to come) that `match` accepts. */
  next(match: (d: Datagram) => boolean, timeoutMs: number, what: string, after?: number): Promise<Datagram>
  /** Sends a datagram MARK=<id> through the same socket; resolves with it as received. */
  mark(): Promise<Datagram>
}

// The receiver: python3's AF_UNIX/SOCK_DGRAM, a line per datagram ("<monotonic ms> <a|b|c>"),
// gone when stdin closes (the test process exiting, however it exits, leaves no receiver).
const RECEIVER = `
import os, socket, sys, threading, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
print("LISTENING", flush=True)
while True:
    data = s.recv(65536)
    print("%.3f %s" % (time.monotonic() * 1000, data.decode("utf-8", "replace").replace("\\n", "|")), flush=True)
`
const SENDER = `
import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])
`

/** Debian's python3 first (a version manager's shim on PATH costs a second per start). */
export const python3 = () => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : findOnPath('python3'))

/**
 * A real sd_notify receiver (what systemd is to a Type=notify service), owned by the test:
 * started here, stopped and reaped in the test's teardown. systemd-notify's BARRIER=1 (an
 * fd passed with the datagram) is satisfied by the kernel closing the fd on receipt.
 */
export async function startNotifyReceiver(t: Test): Promise<NotifyReceiver> {
  const py = python3()
  if (!py) throw new Error('python3 not found')
  const dir = await mkdtemp(join(tmpdir(), 'vigil-notify-'))
  const socket = join(dir, 'notify.sock')
  const child = spawn(py, ['-u', '-c', RECEIVER, socket], { stdio: ['pipe', 'pipe', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    child.stdin!.end()
    child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  })
  const datagrams: Datagram[] = []
  let listening = false
  let errText = ''
  let pending = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (errText += c))
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      if (line === 'LISTENING') {
        listening = true
        continue
      }
      const space = line.indexOf(' ')
      const raw = line.slice(space + 1)
      const fields: Record<string, string> = {}
      for (const a of raw.split('|')) {
        const eq = a.indexOf('=')
        if (eq > 0) fields[a.slice(0, eq)] = a.slice(eq + 1)
      }
      datagrams.push({ at: Number(line.slice(0, space)), fields, raw })
    }
  })
  await waitFor(() => listening, 20_000, `python3 notify receiver listening on ${socket} ${errText}`)
  const next: NotifyReceiver['next'] = async (match, timeoutMs, what, after = -Infinity) => {
    let found: Datagram | undefined
    await waitFor(() => (found = datagrams.find((d) => d.at > after && match(d))) !== undefined, timeoutMs, `${what}; received: ${datagrams.map((d) => d.raw).join(' / ').slice(-2000)}`, 20)
    return found!
  }
  return {
    socket,
    pid: child.pid!,
    datagrams,
    next,
    async mark() {
      const id = randomUUID()
      await new Promise<void>((resolve, reject) => execFile(py, ['-c', SENDER, socket, `MARK=${id}`], (err) => (err ? reject(err) : resolve())))
      return next((d) => d.fields.MARK === id, 10_000, `marker ${id}`)
    },
  }
}

/**
 * Live children of `pid` running `comm` (e.g. systemd-notify helpers still in flight). A zombie
 * is not one: it has exited (its datagram sent) and waits for a parent that is stopped or
 * blocked to reap it.
 */
export async function childrenNamed(pid: number, comm: string): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
    const close = stat.lastIndexOf(')')
    if (close < 0) continue
    const own = stat.slice(stat.indexOf('(') + 1, close)
    const [state, ppid] = stat.slice(close + 2).split(' ')
    if (Number(ppid) === pid && own === comm && state !== 'Z') out.push(Number(name))
  }
  return out
}

/** A process's environment variable names (from /proc/<pid>/environ), or null when it is gone. */
export async function environNames(pid: number): Promise<string[] | null> {
  const text = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => null)
  if (text === null) return null
  return text.split('\0').filter(Boolean).map((kv) => kv.slice(0, kv.indexOf('=')))
}
