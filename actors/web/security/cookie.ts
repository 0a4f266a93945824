/** The session cookie (DESIGN.md §9.1): its name is interface. */
export const SESSION_COOKIE = 'vigil_session'

/** The value of one cookie in a `Cookie` header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * HttpOnly: page scripts (and an XSS) never see it. SameSite=Strict: another site's
 * page cannot make the browser send it. Secure under TLS: never over plain HTTP.
 */
export function sessionCookie(value: string, opts: { maxAgeS: number; secure: boolean; now?: number }): string {
  const expires = new Date((opts.now ?? Date.now()) + opts.maxAgeS * 1000).toUTCString()
  return [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${opts.maxAgeS}`, `Expires=${expires}`, ...(opts.secure ? ['Secure'] : [])].join('; ')
}

export function clearedSessionCookie(opts: { secure: boolean }): string {
  return sessionCookie('', { maxAgeS: 0, secure: opts.secure, now: 0 })
}
