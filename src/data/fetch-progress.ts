/**
 * Download progress on stderr, for `poison data fetch` and for on-demand fetches: a rewritten
 * line on a terminal, a line per 10 % otherwise.
 */
import type { FetchEvent } from './fetch.js';

export function fetchProgressPrinter(name: string, stream: NodeJS.WriteStream = process.stderr): (e: FetchEvent) => void {
  const tty = stream.isTTY === true;
  let lastStep = -1;
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  return (e) => {
    switch (e.type) {
      case 'skip':
        stream.write(`${name}: ${e.file}: ${e.reason}\n`);
        break;
      case 'download':
        lastStep = -1;
        stream.write(`${name}: downloading ${e.file} (${mb(e.size)} MB) from ${e.url}\n`);
        break;
      case 'progress': {
        const pct = e.total > 0 ? Math.floor((100 * e.received) / e.total) : 0;
        const step = tty ? pct : Math.floor(pct / 10);
        if (step === lastStep) break;
        lastStep = step;
        const text = `${name}: ${e.file} ${pct}% (${mb(e.received)}/${mb(e.total)} MB)`;
        stream.write(tty ? `\r${text}` : `${text}\n`);
        break;
      }
      case 'verified':
        stream.write(`${tty ? '\n' : ''}${name}: ${e.file}: SHA-256 verified\n`);
        break;
      case 'extract':
        stream.write(`${name}: extracting ${e.file} from ${e.from}\n`);
        break;
    }
  };
}
