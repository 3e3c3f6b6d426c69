// `lbdns zone set NAME`: who may transfer the zone (networks, TSIG keys) and which secondaries get NOTIFY.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import type { TransferSettingsChange, ZoneTransferSettings } from '../store/transfer-queries.js';
import { parseTarget } from '../xfr/notify.js';
import { parseCommand, usageError, withStore, type Command } from './command.js';
import { USAGE } from './usage.js';

/** "a,b" → [a, b]; "none" or "" → [] (clears). */
function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  if (text === '' || text === 'none') return [];
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function describeTransfer(s: ZoneTransferSettings): string {
  const show = (l: readonly string[]) => (l.length ? l.join(', ') : 'none');
  return `zone ${s.zone} (serial ${s.serial}): allow-transfer ${show(s.allowTransfer)}; tsig keys ${show(s.keys)}; notify ${show(s.notify)}`;
}

export const zoneSet: Command = {
  ...USAGE['zone set'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'zone set',
      options: { 'allow-transfer': { type: 'string' }, 'tsig-key': { type: 'string' }, notify: { type: 'string' } },
      schema: z.object({ 'allow-transfer': z.string().optional(), 'tsig-key': z.string().optional(), notify: z.string().optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const change: TransferSettingsChange = {
      allowTransfer: list(values['allow-transfer']),
      keys: list(values['tsig-key']),
      notify: list(values.notify),
    };
    for (const t of change.notify ?? []) {
      try {
        parseTarget(t);
      } catch (err) {
        throw usageError(`zone set: --notify ${(err as Error).message}`);
      }
    }
    const settings = await withStore(ctx, async (s) => {
      if (change.allowTransfer === undefined && change.keys === undefined && change.notify === undefined) {
        const found = (await s.transferSettings(positionals[0]))[0];
        if (!found) throw new LbdnsError('E_NOT_FOUND', `no zone "${positionals[0].toLowerCase().replace(/\.$/, '')}"`);
        return found;
      }
      return s.setTransferSettings(positionals[0], change);
    });
    ctx.out(describeTransfer(settings));
  },
};
