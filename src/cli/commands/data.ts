/**
 * `poison data list` and `poison data fetch`. Flags are parsed here; the data library is
 * imported inside each action, so `poison --help` loads nothing but commander.
 */
import type { Command } from 'commander';

interface ListFlags {
  json?: boolean;
}

interface FetchFlags {
  dir?: string;
  urlBase?: string;
}

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('list the datasets found on this machine, or fetch their official files');

  data
    .command('list')
    .description('every dataset with its splits, sizes, classes and where each was found (or how to get it)')
    .option('--json', 'machine-readable output')
    .action(async (flags: ListFlags) => {
      const lib = await import('../../data/index.js');
      const listings = await lib.listDatasets();
      process.stdout.write(flags.json ? JSON.stringify(listings, null, 2) + '\n' : lib.formatListingTable(listings));
    });

  data
    .command('fetch')
    .description("download a dataset's official files into datasets/<name>/, verified against pinned SHA-256")
    .argument('<name>', 'mnist, fashion-mnist, cifar10, cifar100 or emnist-letters')
    .option('--dir <dir>', 'folder to put the files in (default: datasets/<name>/ of the poison folder)')
    .option('--url-base <url>', 'download from <url>/<official file name> instead (a mirror)')
    .action(async (rawName: string, flags: FetchFlags) => {
      const lib = await import('../../data/index.js');
      const name = lib.parseDatasetName(rawName);
      const report = await lib.fetchDataset(name, {
        dir: flags.dir,
        urlBase: flags.urlBase,
        onEvent: lib.fetchProgressPrinter(name),
      });
      const parts = [
        `${report.downloaded.length} downloaded`,
        `${report.skipped.length} already present`,
        ...(report.extracted.length > 0 ? [`${report.extracted.length} extracted`] : []),
      ];
      process.stderr.write(`${name}: done (${parts.join(', ')}) in ${report.dir}\n`);
    });
}
