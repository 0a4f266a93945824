import { readFile, readdir } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { portFromPortsFile } from './serverArgs.js'

/**
 * Ready means: this very process wrote its ports file (it listens) and a TCP
 * connect to that port succeeds. The ports file matters when the port is taken by
 * someone else: a bare TCP probe would then succeed against the intruder while
 * our server is about to die of "address already in use".
 */
export async function probeNatsReady(opts: { pid: number; portsFileDir: string; host: string; timeoutMs?: number }): Promise<number | null> {
  const port = await readPortsFile(opts.portsFileDir, opts.pid)
  if (port === null) return null
  return (await tcpReachable(opts.host, port, opts.timeoutMs ?? 500)) ? port : null
}

async function readPortsFile(dir: string, pid: number): Promise<number | null> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return null
  }
  // `<executable>_<pid>.ports`: the executable name depends on NATS_SERVER_BIN.
  const name = names.find((n) => n.endsWith(`_${pid}.ports`))
  if (!name) return null
  try {
    return portFromPortsFile(await readFile(join(dir, name), 'utf8'))
  } catch {
    return null
  }
}

export function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok: boolean) => {
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
