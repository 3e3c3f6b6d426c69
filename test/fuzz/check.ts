// Checks that a reply is a well-formed DNS message answering the packet that was sent.

const ALLOWED_RCODES = new Set([0, 1, 3, 4, 5, 16]);

function u16(b: Buffer, o: number): number {
  return b.readUInt16BE(o);
}

/** Walks a name: pointers must point backwards into the message, labels stay in bounds. */
function walkName(b: Buffer, start: number): number {
  let o = start;
  let end = -1;
  for (let hops = 0; hops < 130; hops++) {
    if (o >= b.length) throw new Error(`name at ${start} runs past the end`);
    const len = b[o];
    if (len === 0) return end === -1 ? o + 1 : end;
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= b.length) throw new Error('truncated pointer');
      const target = ((len & 0x3f) << 8) | b[o + 1];
      if (target >= o) throw new Error(`pointer at ${o} does not point backwards`);
      if (end === -1) end = o + 2;
      o = target;
      continue;
    }
    if (len > 63) throw new Error(`label type ${len >> 6} at ${o}`);
    o += len + 1;
  }
  throw new Error('name loops');
}

/** Returns a description of what is wrong with `reply` as the answer to `query`, or undefined when it is fine. */
export function replyProblem(query: Buffer, reply: Buffer): string | undefined {
  try {
    if (reply.length < 12) return `reply of ${reply.length} octets`;
    if (query.length >= 2 && u16(reply, 0) !== u16(query, 0)) return 'id differs from the query';
    if (!(reply[2] & 0x80)) return 'QR not set';
    if (reply[3] & 0x80) return 'RA set';
    const counts = [u16(reply, 4), u16(reply, 6), u16(reply, 8), u16(reply, 10)];
    if (counts[0] > 1) return `${counts[0]} questions`;
    let o = 12;
    let rcode = reply[3] & 0x0f;
    if (counts[0] === 1) {
      o = walkName(reply, o) + 4;
      // The question must be the one asked, octet for octet.
      const qEnd = o;
      if (query.length < qEnd || !query.subarray(12, qEnd).equals(reply.subarray(12, qEnd))) return 'question differs from the query';
    }
    let opts = 0;
    for (let section = 1; section < 4; section++) {
      for (let i = 0; i < counts[section]; i++) {
        o = walkName(reply, o);
        if (o + 10 > reply.length) return 'record header runs past the end';
        const type = u16(reply, o);
        const rdlen = u16(reply, o + 8);
        if (type === 41) {
          if (section !== 3) return 'OPT outside the additional section';
          opts++;
          rcode |= reply[o + 4] << 4;
        }
        o += 10 + rdlen;
        if (o > reply.length) return 'record data runs past the end';
      }
    }
    if (o !== reply.length) return `${reply.length - o} stray octets after the last record`;
    if (opts > 1) return 'more than one OPT';
    if (!ALLOWED_RCODES.has(rcode)) return `rcode ${rcode}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
