// Problem details (RFC 9457) for every failure the API answers: the status, a fixed title, and the one line the CLI would print.
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CODES, LbdnsError, type ErrorCode } from '../errors.js';

export interface Problem {
  /** A URN per kind of problem: stable for clients to match on, not meant to be fetched. */
  readonly type: string;
  readonly title: string;
  readonly status: number;
  /** One line, as the CLI prints it for the same mistake. */
  readonly detail: string;
  /** The error table's code (src/errors.ts) when the problem comes from there. */
  readonly code?: ErrorCode;
}

const STATUS: Readonly<Record<ErrorCode, number>> = {
  E_INPUT: 400,
  E_ZONEFILE: 400,
  E_CONFIG: 400,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_STORE: 503,
  E_STARTUP: 500,
};

export function problem(status: number, title: string, detail: string, code?: ErrorCode): Problem {
  return { type: `urn:lbdns:problem:${title.replace(/[^a-z0-9]+/g, '-')}`, title, status, detail, ...(code ? { code } : {}) };
}

export const fromLbdnsError = (err: LbdnsError): Problem => problem(STATUS[err.code], ERROR_CODES[err.code], err.message.split('\n', 1)[0], err.code);

export const invalid = (detail: string): Problem => problem(400, ERROR_CODES.E_INPUT, detail, 'E_INPUT');

interface Issue {
  readonly code?: string;
  readonly path?: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: string;
  readonly keys?: readonly string[];
}

/**
 * One line for the first problem a route's schema found. The pool schema's own checks already name the field and the
 * value ("weight -1 must be ..."); for the API's own shapes the field is named here (never the value, which could be
 * a secret pasted in the wrong place).
 */
export function issueLine(issue: Issue, where: string): string {
  const path = (issue.path ?? []).map(String).join('.');
  const field = path === '' ? where : `${where === 'body' ? '' : `${where} `}${path}`;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue.keys ?? []).map((k) => JSON.stringify(k)).join(', ');
    return `${path === '' ? '' : `${path}: `}unknown field${(issue.keys?.length ?? 0) > 1 ? 's' : ''} ${keys}`;
  }
  if (issue.code === 'invalid_type') {
    if (path === '' && where === 'body') return `the body must be ${issue.expected === 'object' ? 'a JSON object' : issue.expected}`;
    return issue.expected === 'nonoptional' || /received undefined/.test(issue.message) ? `${field} is required` : `${field} must be ${article(issue.expected ?? 'a value')}`;
  }
  if (issue.code === 'invalid_value' || issue.code === 'too_big' || issue.code === 'too_small' || issue.code === 'invalid_format') return `${field}: ${issue.message}`;
  return issue.message;
}

const article = (type: string): string => (/^(string|number|boolean|object|array|integer)$/.test(type) ? `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}` : type);

/** The problem for any error a request ended in; `internal` is called for the ones that are lbdns's own fault. */
export function toProblem(err: unknown, internal: (err: unknown) => void): Problem {
  if (err instanceof LbdnsError) return fromLbdnsError(err);
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const issue: Issue = { ...first.params, code: first.keyword, path: first.instancePath.split('/').filter(Boolean), message: first.message ?? 'invalid input' };
    const where = (err as { validationContext?: string }).validationContext ?? 'body';
    return invalid(issueLine(issue, where === 'querystring' ? 'query' : where));
  }
  const e = err as { code?: string; statusCode?: number };
  switch (e.code) {
    // The parser's own message would quote the body, which may hold a secret: say only what is wrong. JSON holding
    // __proto__ or constructor.prototype (prototype poisoning) is refused by the parser the same way.
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalid('the body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalid('the body is empty; send a JSON object');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'body too large', 'the body is larger than this route takes');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'unsupported media type', 'this route takes application/json (zone import: text/dns or text/plain)');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalid('the body is not as long as Content-Length says');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return problem(e.statusCode, 'bad request', String((err as Error).message).split('\n', 1)[0]);
  }
  internal(err);
  return problem(500, 'internal error', 'the request failed inside lbdns; the node logged why');
}
