// Turns the store's journal steps (presentation text) into the RRs an IXFR sends, for the zone as the snapshot holds it.
import type { RR } from '../core/answer.js';
import { QCLASS, typeCode } from '../core/constants.js';
import type { Zone } from '../core/snapshot.js';
import { encodeRdata } from '../records/content.js';
import type { JournalRecord, JournalStepRow, Store } from '../store/store.js';
import type { JournalStep } from './transfer-service.js';

function toRR(zone: Zone, r: JournalRecord): RR {
  const type = typeCode(r.type);
  if (type === undefined) throw new Error(`journal holds type ${r.type}`);
  // A null TTL is the zone's default, which the SOA carries (src/snapshot/build.ts soaSet).
  return { name: r.name, type, cls: QCLASS.IN, ttl: r.ttl ?? zone.soa.ttl, rdata: encodeRdata(r.type, r.content) };
}

/** The steps as RRs; undefined when a journaled record no longer encodes (the client then gets the whole zone). */
export function journalSteps(zone: Zone, rows: readonly JournalStepRow[]): JournalStep[] | undefined {
  try {
    return rows.map((s) => ({ fromSerial: s.fromSerial, toSerial: s.toSerial, removed: s.removed.map((r) => toRR(zone, r)), added: s.added.map((r) => toRR(zone, r)) }));
  } catch {
    return undefined;
  }
}

/** For TransferService's `journal` option: the store's steps from `fromSerial` up to the snapshot's serial. */
export function storeJournal(store: Pick<Store, 'journal'>): (zone: Zone, fromSerial: number) => Promise<readonly JournalStep[] | undefined> {
  return async (zone, fromSerial) => {
    const rows = await store.journal(zone.name, fromSerial, zone.serial);
    return rows === undefined ? undefined : journalSteps(zone, rows);
  };
}
