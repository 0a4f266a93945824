import { SIGNATURE_HEADER, signBody } from './signature.js'
import type { RenderedDelivery } from './message.js'

export interface PostTarget {
  url: string
  secret?: string | undefined
  timeoutMs: number
}

export type PostResult = { ok: true } | { ok: false; reason: string }

const USER_AGENT = 'vigil-webhook/1'

/**
 * One POST, bounded by `timeoutMs` (a receiver that accepts and never answers costs one
 * timeout, never the rig's time: this runs beside everything else). Any 2xx is delivered;
 * anything else is a failure with a reason fit for status and alerts (no URL, no secret).
 * Redirects are not followed: a webhook URL is where the signed body goes, nowhere else.
 */
export async function postWebhook(target: PostTarget, delivery: RenderedDelivery, signal?: AbortSignal): Promise<PostResult> {
  const url = new URL(target.url)
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...delivery.headers }
  // fetch refuses a URL with credentials: they become Basic auth, the way curl sends them.
  if (url.username || url.password) {
    headers['Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  if (target.secret) headers[SIGNATURE_HEADER] = signBody(target.secret, delivery.body)
  const timeout = AbortSignal.timeout(target.timeoutMs)
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: delivery.body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    })
    // The answer's body is not needed; not reading it would keep the connection busy.
    await res.body?.cancel().catch(() => {})
    return res.status >= 200 && res.status < 300 ? { ok: true } : { ok: false, reason: `HTTP ${res.status}` }
  } catch (err) {
    if (timeout.aborted) return { ok: false, reason: `no answer within ${target.timeoutMs} ms` }
    if (signal?.aborted) return { ok: false, reason: 'aborted' }
    const cause = (err as { cause?: { code?: unknown } }).cause
    return { ok: false, reason: typeof cause?.code === 'string' ? cause.code : 'request failed' }
  }
}
