import { redactCredentials } from '../redaction.js'

/** What a webhook may subscribe to (DESIGN.md §4's severities and event kinds, or a whole family). */
export const WEBHOOK_EVENTS = [
  'alert.critical',
  'alert.warning',
  'alert.info',
  'alert.*',
  'event.motion',
  'event.sound',
  'event.recording.started',
  'event.recording.stopped',
  'event.segment.closed',
  'event.snapshot.saved',
  'event.*',
] as const

const KNOWN: ReadonlySet<string> = new Set(WEBHOOK_EVENTS)

/** The receiver's address for an operator: scheme, host and port only (a path or query may be the secret, e.g. an ntfy topic). */
export function webhookOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}

/**
 * `notify.webhooks` beyond the schema: an http(s) URL and known event names, one line per
 * problem, the URL shown without credentials, path or query (they may be the secret).
 */
export function webhookProblems(webhooks: ReadonlyArray<{ url: string; events: string[] }>): string[] {
  const problems: string[] = []
  webhooks.forEach((hook, i) => {
    const field = `notify.webhooks.${i}`
    let url: URL | undefined
    try {
      url = new URL(hook.url)
    } catch {
      problems.push(`${field}.url: not a URL; expected http://host[:port]/path or https://…`)
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${field}.url: only http:// and https:// receivers are supported (got ${redactCredentials(url.protocol)}//…)`)
    }
    hook.events.forEach((name, j) => {
      if (!KNOWN.has(name)) problems.push(`${field}.events.${j}: unknown event ${JSON.stringify(name.slice(0, 64))}; one of ${WEBHOOK_EVENTS.join(', ')}`)
    })
  })
  return problems
}

/** `VIGIL_NOTIFY_WEBHOOK=<url>` adds a receiver of critical alerts to those of the file (it replaces none). */
export function withEnvWebhook(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const url = env.VIGIL_NOTIFY_WEBHOOK?.trim()
  if (!url) return merged
  const notify = typeof merged.notify === 'object' && merged.notify !== null && !Array.isArray(merged.notify) ? (merged.notify as Record<string, unknown>) : {}
  const hooks = Array.isArray(notify.webhooks) ? notify.webhooks : []
  return { ...merged, notify: { ...notify, webhooks: [...hooks, { url, events: ['alert.critical'] }] } }
}
