/**
 * Headers every response carries, errors and static files included (DESIGN.md §9.1):
 * no page of the rig can be framed (clickjacking the record button), sniffed into a
 * script, or made to talk to another origin; the live video comes from the same
 * origin (/live/cam.flv), so connect-src needs nothing but 'self'.
 */

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  // mpegts.js feeds the video element through Media Source Extensions (blob: URLs).
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** A year: browsers remember to use HTTPS for this host:port. No includeSubDomains (a rig owns no domain). */
const HSTS = 'max-age=31536000'

export function securityHeaders(opts: { tls: boolean }): Record<string, string> {
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    // A foreign page cannot even embed a snapshot or recording as <img>/<video> (auth-off loopback rigs).
    'Cross-Origin-Resource-Policy': 'same-origin',
    ...(opts.tls ? { 'Strict-Transport-Security': HSTS } : {}),
  }
}
