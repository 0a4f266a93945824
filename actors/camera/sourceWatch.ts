import { connect } from 'node:net'
import { fromCallback, type EventObject } from 'xstate'
import type { SourceEvent } from '../../machines/camera.machine.js'
import type { CameraSource } from '../../infra/sources.js'

/** Where a network camera listens: what `watchSourceLogic` knocks on. */
export interface SourceAddress {
  host: string
  port: number
}

const DEFAULT_PORTS: Record<string, number> = { 'rtsp:': 554, 'rtsps:': 322 }

/** The host and port of an rtsp:// source; null for a source with no address (testsrc, v4l2, file). */
export function sourceAddress(source: CameraSource): SourceAddress | null {
  if (source.kind !== 'rtsp') return null
  try {
    const url = new URL(source.url)
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const port = url.port === '' ? DEFAULT_PORTS[url.protocol.toLowerCase()] : Number(url.port)
    return host && port ? { host, port } : null
  } catch {
    return null
  }
}

export interface SourceWatchOptions {
  address: SourceAddress | null
  /** Between knocks: the longest a camera back from a reboot waits for us. */
  everyMs: number
  /** A knock unanswered this long counts as unreachable (a camera powered off drops SYNs). */
  connectTimeoutMs: number
}

/**
 * The camera machine's `watchSource` actor, invoked while it waits to reconnect: knocks on
 * the camera's RTSP port (a TCP connect, closed at once; no RTSP spoken) every `everyMs`
 * and sends SOURCE.REACHABLE when the port, having refused or timed out during this wait,
 * accepts again. A port that always accepts (a camera answering 401 or 404) never sends:
 * the machine's backoff paces those retries, so a wrong password is not hammered. The
 * timer and the socket belong to the callback's cleanup: leaving the state ends them.
 */
export function watchSourceLogic(opts: SourceWatchOptions) {
  return fromCallback<EventObject>(({ sendBack }) => {
    const address = opts.address
    if (address === null) return () => {}
    let sawDown = false
    let done = false
    let timer: NodeJS.Timeout | undefined
    let socket: ReturnType<typeof connect> | undefined

    const knock = () => {
      timer = undefined
      const s = connect({ host: address.host, port: address.port })
      socket = s
      const settle = (up: boolean) => {
        if (socket !== s) return
        socket = undefined
        s.destroy()
        if (done) return
        if (!up) sawDown = true
        else if (sawDown) {
          done = true
          sendBack({ type: 'SOURCE.REACHABLE' } satisfies SourceEvent)
          return
        }
        timer = setTimeout(knock, opts.everyMs)
      }
      s.setTimeout(opts.connectTimeoutMs, () => settle(false))
      s.once('connect', () => settle(true))
      s.once('error', () => settle(false))
    }
    knock()

    return () => {
      done = true
      clearTimeout(timer)
      socket?.destroy()
      socket = undefined
    }
  })
}
