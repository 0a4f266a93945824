import { connect as tcpConnect, type Socket } from 'node:net'
import { connackReason, decodePackets, encodeConnect, encodeDisconnect, encodePingreq, encodePublish, type ConnectOptions } from './packets.js'

/** Where to publish: `mqtt://[user[:password]@]host[:port]` (plain TCP; no mqtts). */
export interface MqttEndpoint {
  host: string
  port: number
  username?: string
  password?: string
}

export function parseMqttUrl(url: string): MqttEndpoint {
  const u = new URL(url)
  if (u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') throw new Error(`an MQTT URL starts mqtt:// (got ${u.protocol}//)`)
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) throw new Error('the MQTT URL has no host')
  const out: MqttEndpoint = { host, port: u.port ? Number(u.port) : 1883 }
  if (u.username) out.username = decodeURIComponent(u.username)
  if (u.password) out.password = decodeURIComponent(u.password)
  return out
}

export interface MqttConnection {
  /** QoS 1 resolves on the server's PUBACK; QoS 0 once written. Rejects when the connection is gone. */
  publish(topic: string, payload: string, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>
  /** DISCONNECT then close: the server drops the Last Will (a clean goodbye). */
  disconnect(): Promise<void>
  /** Close the socket without DISCONNECT: the server then publishes the Last Will. */
  drop(): void
  /** Resolves once when the connection ends, with why (never rejects). */
  closed: Promise<string>
}

/**
 * A publish-only MQTT 3.1.1 connection. It never reconnects by itself: the mqtt machine
 * decides when to try again, so a dead broker is one state, not a hidden retry loop.
 * The keep-alive ping timer belongs to the socket and ends with it.
 */
export function connectMqtt(endpoint: MqttEndpoint, opts: ConnectOptions & { timeoutMs?: number }): Promise<MqttConnection> {
  return new Promise((resolveConnect, rejectConnect) => {
    const socket: Socket = tcpConnect({ host: endpoint.host, port: endpoint.port })
    socket.setNoDelay(true)
    let pending = Buffer.alloc(0)
    let connected = false
    let nextId = 1
    const acks = new Map<number, { resolve(): void; reject(err: Error): void }>()
    let ping: NodeJS.Timeout | undefined
    let settleClosed!: (why: string) => void
    const closed = new Promise<string>((r) => (settleClosed = r))
    let closeReason = 'connection closed'

    const connectTimer = setTimeout(() => fail(new Error(`no CONNACK from ${endpoint.host}:${endpoint.port} within ${opts.timeoutMs ?? 5000} ms`)), opts.timeoutMs ?? 5000)
    const fail = (err: Error) => {
      closeReason = err.message
      socket.destroy()
      if (!connected) rejectConnect(err)
    }

    socket.on('data', (chunk: Buffer) => {
      let decoded
      try {
        decoded = decodePackets(pending.length ? Buffer.concat([pending, chunk]) : chunk)
      } catch (err) {
        return fail(err as Error)
      }
      pending = Buffer.from(decoded.rest)
      for (const p of decoded.packets) {
        if (p.type === 'connack') {
          clearTimeout(connectTimer)
          if (p.returnCode !== 0) return fail(new Error(`MQTT server refused the connection: ${connackReason(p.returnCode)}`))
          connected = true
          // Half the keep-alive: the server allows 1.5× before it drops the client (and sends the Will).
          if (opts.keepaliveS > 0) ping = setInterval(() => socket.write(encodePingreq()), (opts.keepaliveS * 1000) / 2)
          resolveConnect(connection)
        } else if (p.type === 'puback') {
          const waiter = acks.get(p.packetId)
          acks.delete(p.packetId)
          waiter?.resolve()
        }
      }
    })
    socket.on('error', (err) => {
      closeReason = (err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code} ${endpoint.host}:${endpoint.port}` : err.message
    })
    socket.on('close', () => {
      clearTimeout(connectTimer)
      clearInterval(ping)
      const err = new Error(`MQTT connection lost: ${closeReason}`)
      for (const waiter of acks.values()) waiter.reject(err)
      acks.clear()
      if (!connected) rejectConnect(new Error(closeReason))
      settleClosed(closeReason)
    })
    socket.once('connect', () => socket.write(encodeConnect(opts)))

    const connection: MqttConnection = {
      publish(topic, payload, o = {}) {
        const qos = o.qos ?? 0
        const retain = o.retain ?? false
        if (socket.destroyed || !socket.writable) return Promise.reject(new Error(`MQTT connection lost: ${closeReason}`))
        if (qos === 0) {
          return new Promise<void>((res, rej) => socket.write(encodePublish({ topic, payload, qos, retain }), (err) => (err ? rej(err) : res())))
        }
        const packetId = nextId
        nextId = nextId === 0xffff ? 1 : nextId + 1
        return new Promise<void>((res, rej) => {
          acks.set(packetId, { resolve: res, reject: rej })
          socket.write(encodePublish({ topic, payload, qos, retain, packetId }))
        })
      },
      disconnect() {
        closeReason = 'disconnected'
        if (socket.destroyed) return Promise.resolve()
        return new Promise<void>((res) => {
          socket.once('close', () => res())
          socket.end(encodeDisconnect())
          // A server that never closes its side still lets us go.
          setTimeout(() => socket.destroy(), 1000).unref()
        })
      },
      drop() {
        closeReason = 'dropped'
        socket.destroy()
      },
      closed,
    }
  })
}
