import { connect } from 'node:net'

/**
 * Liveness: nats-server greets every new client with an `INFO {…}` line. A
 * SIGSTOPped or wedged server still has its listening socket, and the kernel still
 * completes TCP handshakes into the backlog, so "the port accepts" proves nothing;
 * the greeting needs the server's own code to run. Resolves when it arrives,
 * rejects (with why) when it does not within `timeoutMs`.
 */
export function probeNatsInfo(opts: { host: string; port: number; timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: opts.host, port: opts.port })
    let received = ''
    const done = (err?: Error) => {
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      opts.signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve()
    }
    const onAbort = () => done(new Error('probe cancelled'))
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    socket.setTimeout(opts.timeoutMs, () =>
      done(new Error(received === '' ? `no INFO from ${opts.host}:${opts.port} within ${opts.timeoutMs} ms` : `incomplete INFO within ${opts.timeoutMs} ms`)),
    )
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      received += chunk
      if (!received.includes('\n') && received.length < 6) return
      if (received.startsWith('INFO ')) done()
      else done(new Error(`unexpected greeting from ${opts.host}:${opts.port}: ${JSON.stringify(received.slice(0, 40))}`))
    })
    socket.once('error', (err) => done(new Error(`${opts.host}:${opts.port}: ${err.message}`)))
    socket.once('end', () => done(new Error(`${opts.host}:${opts.port} closed the connection before INFO`)))
  })
}
