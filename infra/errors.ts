/** The one error-code enum shared by NATS replies and HTTP responses (DESIGN.md §4). */
export const httpStatusByCode = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  ALREADY_RECORDING: 409,
  NOT_RECORDING: 409,
  DISK_FULL: 507,
  UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof httpStatusByCode
export const errorCodes = Object.keys(httpStatusByCode) as ErrorCode[]

export interface ErrorBody {
  code: ErrorCode
  message: string
  details?: Record<string, unknown>
}

/** An error that is a value: callers switch on `code`, never on the message. */
export class VigilError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'VigilError'
    this.code = code
    this.details = details
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(httpStatusByCode, value)
}

/** Anything thrown becomes a body; unknown failures are INTERNAL and keep only their message. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof VigilError) return err.toBody()
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'INTERNAL', message }
}

export function httpStatusOf(code: ErrorCode): number {
  return httpStatusByCode[code]
}
