import type { FeedItem } from '../../infra/feed.js'

/** What is posted about one alert or event (before the receiver's format). */
export interface NotifyMessage {
  node: string
  /** `alert.<severity>` or `event.<kind>`: what webhooks subscribe to. */
  kind: string
  at: string
  /** The alert's or event's id: receivers dedupe by it (a folded alert comes again with a higher `count`). */
  id: string
  [field: string]: unknown
}

/** A rendered delivery: the exact body (what the signature covers) and the format's headers. */
export interface RenderedDelivery {
  body: string
  headers: Record<string, string>
}

export interface WebhookRoute {
  /** `webhook-1`, … in config order: alerts and status name receivers by it. */
  label: string
  events: ReadonlySet<string>
  format: 'json' | 'ntfy'
}

/** The message for a feed item, or null for what webhooks never carry (state changes). */
export function messageOf(item: FeedItem, node: string): NotifyMessage | null {
  if (item.type === 'alert') {
    const a = item.alert
    return {
      node,
      kind: `alert.${a.severity}`,
      at: a.at,
      id: a.id,
      source: a.source,
      severity: a.severity,
      code: a.code,
      message: a.message,
      count: a.count,
      details: a.details,
    }
  }
  if (item.type === 'event') {
    const { id, at, ...rest } = item.payload as { id?: unknown; at?: unknown }
    return {
      node,
      kind: `event.${item.kind}`,
      at: typeof at === 'string' ? at : item.at,
      id: typeof id === 'string' ? id : '',
      ...Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'node' && k !== 'kind')),
    }
  }
  return null
}

/** Whether a receiver subscribed to this kind (`alert.*` / `event.*` take the family). */
export function wants(route: WebhookRoute, kind: string): boolean {
  return route.events.has(kind) || route.events.has(`${kind.slice(0, kind.indexOf('.'))}.*`)
}

/**
 * Whether a delivery to `route` would feed a loop: the notify.failed about a receiver
 * never goes to that receiver (it is the one not answering).
 */
export function aboutItself(route: WebhookRoute, message: NotifyMessage): boolean {
  if (message['source'] !== 'notify') return false
  const details = message['details'] as { receiver?: unknown } | undefined
  return details?.receiver === route.label
}

// HTTP header values are Latin-1 and one line: ntfy's Title must be made so.
const headerSafe = (s: string, max = 200) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, max)

const NTFY_PRIORITY: Record<string, string> = { 'alert.critical': '5', 'alert.warning': '4', 'alert.info': '3', 'event.sound': '4', 'event.motion': '4' }
const NTFY_TAGS: Record<string, string> = {
  'alert.critical': 'rotating_light',
  'alert.warning': 'warning',
  'alert.info': 'information_source',
  'event.motion': 'walking',
  'event.sound': 'loud_sound',
}

function summary(message: NotifyMessage): { title: string; text: string } {
  const node = message.node
  if (message.kind.startsWith('alert.')) {
    const count = typeof message['count'] === 'number' && message['count'] > 1 ? ` (x${message['count']})` : ''
    return { title: `${node}: ${String(message['code'])}${count}`, text: String(message['message']) }
  }
  const what = message.kind.slice('event.'.length)
  if (what === 'sound') {
    const db = typeof message['db'] === 'number' ? ` at ${message['db'].toFixed(1)} dBFS` : ''
    return { title: `${node}: sound`, text: `Sound${db} (${message.at})` }
  }
  if (what === 'motion') {
    const score = typeof message['score'] === 'number' ? ` (score ${message['score'].toFixed(3)})` : ''
    return { title: `${node}: motion`, text: `Motion${score} (${message.at})` }
  }
  return { title: `${node}: ${what}`, text: `${what} (${message.at})` }
}

/** The body and headers for a receiver's format: JSON, or ntfy.sh's plain text with Title/Priority/Tags. */
export function render(message: NotifyMessage, format: 'json' | 'ntfy'): RenderedDelivery {
  const common = { 'X-Vigil-Id': headerSafe(message.id, 100), 'X-Vigil-Kind': headerSafe(message.kind, 100) }
  if (format === 'ntfy') {
    const { title, text } = summary(message)
    return {
      body: text,
      headers: {
        ...common,
        'Content-Type': 'text/plain; charset=utf-8',
        Title: headerSafe(title),
        Priority: NTFY_PRIORITY[message.kind] ?? '3',
        Tags: NTFY_TAGS[message.kind] ?? 'bell',
      },
    }
  }
  return { body: JSON.stringify(message), headers: { ...common, 'Content-Type': 'application/json' } }
}
