/**
 * RFC 4180 reading for the tests (quoted fields may hold commas, newlines and doubled quotes):
 * the project only writes CSV, through csv-stringify, so the tests bring their own reader.
 */

/** Every row of a CSV text, as fields; a trailing newline ends the last row. */
export function parseCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The fields of one CSV line. */
export function splitCsvLine(line: string): string[] {
  return parseCsvRows(line)[0] ?? [''];
}

/** Rows after the header, as objects keyed by the header's names. */
export function parseCsvRecords(text: string): Record<string, string>[] {
  const [header, ...body] = parseCsvRows(text);
  return body.map((r) => Object.fromEntries((header ?? []).map((h, i) => [h, r[i] ?? ''])));
}
