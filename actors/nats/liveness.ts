import { connect, type Socket } from 'node:net'
import type { NatsCredentialOptions } from '../../infra/nats/credentials.js'

export interface NatsPinger {
  /**
   * Resolves when the server at `port` answers a PING within `timeoutMs`; rejects (with
   * why) when it does not, or at once on `signal`. A miss drops the connection, so the
   * next ping starts from a fresh one.
   */
  ping(port: number, timeoutMs: number, signal?: AbortSignal): Promise<void>
  /** Drops the kept connection (the server it watched is gone or stopping). */
  close(): void
}

type Login = Pick<NatsCredentialOptions, 'user' | 'pass' | 'token' | 'authenticator'>

/** What CONNECT carries for the rig's credential (nats.js's own authenticator signs an nkey's nonce). */
function connectFields(login: Login | undefined, nonce: string | undefined): Record<string, unknown> {
  if (!login) return {}
  const out: Record<string, unknown> = {}
  if (login.user !== undefined) {
    out['user'] = login.user
    out['pass'] = login.pass ?? ''
  }
  if (login.token !== undefined) out['auth_token'] = login.token
  const authenticators = login.authenticator === undefined ? [] : Array.isArray(login.authenticator) ? login.authenticator : [login.authenticator]
  for (const a of authenticators) Object.assign(out, a(nonce))
  return out
}

/** One connection: the greeting, CONNECT, then PING/PONG on demand. */
interface Link {
  port: number
  socket: Socket
  /** The next PONG (or the refusal) settles the oldest waiter. */
  waiters: Array<{ resolve(): void; reject(err: Error): void }>
  /** CONNECT sent: a PING may go; before it, a server behind auth refuses one. */
  greeted: boolean
  dead?: Error
}

/**
 * Liveness over one kept connection that speaks just enough of the client protocol. A
 * SIGSTOPped or wedged nats-server still has its listening socket, and the kernel still
 * completes TCP handshakes into the backlog, so "the port accepts" proves nothing; a PONG
 * needs the server's own code to run. The connection is kept between pings: nats-server
 * records every closed connection in a ring of 10,000 for its monitoring (no config key
 * bounds it), so a connection a probe (1,800 an hour at the default 2 s) grew the
 * server's memory for hours. Not nats.js: its connect, given up on before the greeting,
 * leaves the socket open (a frozen server never greets), and a probe must own its socket.
 * `credentials`: the rig's own, the only one the embedded server admits.
 */
export function createNatsPinger(opts: { host: string; credentials?: Login; name?: string }): NatsPinger {
  let link: Link | undefined

  const fail = (l: Link, err: Error) => {
    if (l.dead) return
    l.dead = err
    l.socket.destroy()
    for (const w of l.waiters.splice(0)) w.reject(err)
    if (link === l) link = undefined
  }

  const open = (port: number): Link => {
    const socket = connect({ host: opts.host, port })
    const l: Link = { port, socket, waiters: [], greeted: false }
    let pending = ''
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    socket.on('data', (chunk: string) => {
      pending += chunk
      // A server's INFO is a few hundred bytes; anything without a line end this long is not nats-server.
      if (pending.length > 64 * 1024) return fail(l, new Error(`${opts.host}:${port}: no protocol line in 64 KB`))
      let nl: number
      while ((nl = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 2)
        if (!l.greeted) {
          if (!line.startsWith('INFO ')) return fail(l, new Error(`unexpected greeting from ${opts.host}:${port}: ${JSON.stringify(line.slice(0, 40))}`))
          l.greeted = true
          let nonce: string | undefined
          try {
            nonce = (JSON.parse(line.slice(5)) as { nonce?: string }).nonce
          } catch {
            return fail(l, new Error(`${opts.host}:${port}: unreadable INFO`))
          }
          const fields = { verbose: false, pedantic: false, echo: false, lang: 'node', version: 'vigil', protocol: 1, name: opts.name ?? 'vigil-liveness' }
          socket.write(`CONNECT ${JSON.stringify({ ...fields, ...connectFields(opts.credentials, nonce) })}\r\n${'PING\r\n'.repeat(l.waiters.length)}`)
        } else if (line === 'PONG') l.waiters.shift()?.resolve()
        else if (line === 'PING') socket.write('PONG\r\n')
        else if (line.startsWith('-ERR')) return fail(l, new Error(`${opts.host}:${port}: ${line.slice(5).replace(/^'|'$/g, '')}`))
        // INFO updates and +OK need nothing.
      }
    })
    socket.on('error', (err) => fail(l, new Error(`${opts.host}:${port}: ${err.message}`)))
    socket.on('close', () => fail(l, new Error(`${opts.host}:${port} closed the connection`)))
    return l
  }

  const drop = () => {
    if (link) fail(link, new Error('probe closed'))
  }

  return {
    ping(port, timeoutMs, signal) {
      if (link && (link.port !== port || link.dead)) drop()
      const l = (link ??= open(port))
      return new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined
        const settle = (err?: Error) => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          if (err) reject(err)
          else resolve()
        }
        const onAbort = () => {
          fail(l, new Error('probe cancelled'))
        }
        l.waiters.push({ resolve: () => settle(), reject: settle })
        timer = setTimeout(() => fail(l, new Error(`no PONG from ${opts.host}:${port} within ${timeoutMs} ms`)), timeoutMs)
        if (signal?.aborted) onAbort()
        else signal?.addEventListener('abort', onAbort, { once: true })
        // Before the greeting, the PING goes out with CONNECT.
        if (!l.dead && l.greeted) l.socket.write('PING\r\n')
      })
    },
    close: drop,
  }
}
