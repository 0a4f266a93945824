/**
 * What must never reach a log, an alert, a reply or a config error: URL credentials,
 * signed or secret query values, and the values of fields whose name says "secret".
 * One module, so every path out of the process hides the same things the same way.
 */

// The authority runs to the first `/`, `?`, `#` or blank; its userinfo to the LAST `@` in it
// (RFC 3986 §3.2): a greedy run, so `rtsp://admin:p@ss@host` loses `admin:p@ss`, not `admin:p`.
const URL_USERINFO = /((?:\b[a-z][a-z0-9+.-]*:)?\/\/)[^\s/?#]*@/gi
// `user:password@host` with no scheme (an operator's shorthand, some tools' output): only
// with a colon, so an e-mail address or ffmpeg's `[tcp @ 0x…]` tags stay as they are.
const BARE_USERINFO = /(^|[\s"'(<=,;])[^\s:/?#@"'<>]+:[^\s/?#"'<>]*@(?=[^\s@])/g
// Query parameters that carry a secret: the media server's `?sign=`, tokens, passwords, keys.
const SECRET_PARAM = /([?&;](?:[a-z0-9_.-]*?(?:sign|sig|signature|token|password|passwd|pwd|pass|secret|key|auth|credential)[a-z0-9_.-]*)=)[^&#\s"'<>]*/gi

/**
 * `rtsp://user:secret@cam/stream?sign=…` → `rtsp://***@cam/stream?sign=***`, anywhere in a
 * text. The one redaction: status replies, alerts, logs, config errors and every child's
 * stderr (ffmpeg echoes its input URL) pass through here. `mask` is the replacement.
 */
export function redactCredentials(text: string, mask = '***'): string {
  return text
    .replace(URL_USERINFO, `$1${mask}@`)
    .replace(BARE_USERINFO, `$1${mask}@`)
    .replace(SECRET_PARAM, `$1${mask}`)
}


// Field names whose value is a secret: web.token, nats.auth.password, a user's passwordHash,
// the media server's sign, … (`key` alone: a TLS key or an API key).
const SECRET_KEY = /^(?:key|auth|sign|signature|credentials?|authorization|passwd|cookie|.*(?:token|password|password_?hash|secret|api_?key|private_?key|secret_?key|access_?key))$/i

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key)
}

/**
 * A copy of plain data (a config, a reply) for showing: a secret field's value becomes
 * `mask`, every string loses its URL credentials. For trusted, finite data (the parsed config).
 */
export function redactSecrets(value: unknown, mask = '(redacted)'): unknown {
  if (typeof value === 'string') return redactCredentials(value)
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, mask))
  if (typeof value !== 'object' || value === null) return value
  // fromEntries defines own keys: no key can reach a prototype.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== undefined && v !== null ? mask : redactSecrets(v, mask)]))
}
