import { createHash, randomBytes } from 'node:crypto'

/**
 * node-media-server v4's signed-URL scheme (its `auth.secret`): `?sign=<expS>-<md5hex>` with
 * md5 over `<streamPath>-<expS>-<secret>`. Kept byte-for-byte so the server's own check and
 * ours (access.ts) agree; md5 is its choice, and is enough here: the secret is 256 random
 * bits and lives only as long as the rig process.
 */
export function streamSignature(streamPath: string, expiresAtS: number, secret: string): string {
  return `${expiresAtS}-${createHash('md5').update(`${streamPath}-${expiresAtS}-${secret}`).digest('hex')}`
}

/**
 * A signed URL is checked once, when a reader or the camera connects: it only has to
 * outlive ffmpeg's start (an RTSP source may probe for several seconds). Every spawn signs
 * anew, so a restart never reuses an old signature; a short life bounds what a copy taken
 * from a process list is worth.
 */
export const PROCESS_SIGN_TTL_S = 60

/**
 * Holds the rig's media secret: random per rig start, never in argv, env, a log or a status.
 * Everyone the rig runs that reads or publishes asks it for a signature; the media server
 * child gets the secret once, over its IPC channel (`secretForMediaServer`).
 */
export class MediaSigner {
  readonly #secret: string
  readonly #nowMs: () => number

  constructor(opts: { secret?: string; nowMs?: () => number } = {}) {
    this.#secret = opts.secret ?? randomBytes(32).toString('hex')
    this.#nowMs = opts.nowMs ?? Date.now
  }

  /** `<expS>-<md5>` for `streamPath` (`/live/cam`), valid `ttlS` seconds from now. */
  sign(streamPath: string, ttlS = PROCESS_SIGN_TTL_S): string {
    return streamSignature(streamPath, Math.floor(this.#nowMs() / 1000) + ttlS, this.#secret)
  }

  /** Only for the media server child's IPC config message. */
  secretForMediaServer(): string {
    return this.#secret
  }

  // Whatever logs or serializes a holder of the signer must not print the secret.
  toJSON(): string {
    return '[MediaSigner]'
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[MediaSigner]'
  }
}
