// Bytes in, bytes out: decode a query, answer it from the snapshot, encode the reply. Pure and synchronous.
import { answerQuery, type Answer, type AnswerContext } from './answer.js';
import { RCODE } from './constants.js';
import { encodeAnswer, encodeRcodeOnly, replyLimit } from './encode.js';
import { decodeQuery, type Query } from './query.js';
import type { Snapshot } from './snapshot.js';

export interface Outcome {
  /** undefined: send nothing (unreadable header, or a response sent to us). */
  readonly reply: Buffer | undefined;
  readonly rcode: number;
  readonly query: Query | undefined;
  readonly answer: Answer | undefined;
  /** Why a packet was refused as malformed, for logs. */
  readonly problem: string | undefined;
  readonly truncated: boolean;
}

export function respond(snapshot: Snapshot, packet: Uint8Array, clientAddress: string, tcp: boolean, ctx: AnswerContext): Outcome {
  const decoded = decodeQuery(packet);
  if (decoded.kind === 'drop') return { reply: undefined, rcode: -1, query: undefined, answer: undefined, problem: decoded.reason, truncated: false };
  if (decoded.kind === 'error') {
    const reply = encodeRcodeOnly(decoded, decoded.rcode, decoded.question, decoded.edns ? { dnssecOk: false } : undefined);
    return { reply, rcode: decoded.rcode, query: undefined, answer: undefined, problem: decoded.reason, truncated: false };
  }
  const query = decoded.query;
  // RFC 6891 §6.1.3: we speak EDNS version 0 only.
  if (query.edns && query.edns.version > 0) {
    const reply = encodeRcodeOnly(query, RCODE.BADVERS, query.question, query.edns);
    return { reply, rcode: RCODE.BADVERS, query, answer: undefined, problem: undefined, truncated: false };
  }
  const unsigned = answerQuery(snapshot, query, { address: clientAddress, ecs: query.edns?.ecs }, ctx);
  const answer = query.edns?.dnssecOk && ctx.dnssec ? ctx.dnssec.sign(snapshot, query, unsigned) : unsigned;
  const reply = encodeAnswer(query, answer, replyLimit(query, tcp));
  return { reply, rcode: answer.rcode, query, answer, problem: undefined, truncated: (reply[2] & 0x02) !== 0 };
}
