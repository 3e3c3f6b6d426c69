// Errors outside the DNS path: one class, one table of stable codes.
export const ERROR_CODES = {
  E_CONFIG: 'invalid configuration',
  E_INPUT: 'invalid input',
  E_NOT_FOUND: 'not found',
  E_CONFLICT: 'conflicts with existing data',
  E_ZONEFILE: 'zone file error',
  E_STORE: 'store unavailable',
  E_STARTUP: 'cannot start',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LbdnsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LbdnsError';
    this.code = code;
  }
}
