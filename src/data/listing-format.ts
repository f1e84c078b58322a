/**
 * The human table of `poison data list`: one row per split, then for anything missing the
 * commands that bring it.
 */
import type { DatasetListing } from './listing.js';

const HEADER = ['DATASET', 'CLASSES', 'IMAGE', 'SPLIT', 'IMAGES', 'FOUND IN / HOW TO GET'];

export function formatListingTable(listings: readonly DatasetListing[]): string {
  const rows: string[][] = [];
  for (const d of listings) {
    const shape = `${d.height}×${d.width}×${d.channels}`;
    const get = d.howToGet.map((c) => `\`${c}\``).join(' or ');
    let first = true;
    for (const s of d.splits) {
      const cells = first ? [d.name, String(d.numClasses), shape] : ['', '', ''];
      let where: string;
      if (s.size !== null && s.source !== null) where = s.source;
      else if (s.source !== null) where = `${s.source}: UNREADABLE: ${s.problem ?? ''}`;
      else if (d.available) where = `not available (${s.problem ?? 'not found'}); official files: ${get}`;
      else where = `missing: get it with ${get} (or let a command fetch it on first use)`;
      rows.push([...cells, s.split, s.size === null ? '-' : String(s.size), where]);
      first = false;
      // A dataset with nothing at all needs one line, not three identical ones.
      if (!d.available) {
        rows[rows.length - 1]![3] = '-';
        break;
      }
    }
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), ...rows.map(line)].join('\n') + '\n';
}
