/**
 * Turning flag strings into typed values. Each failure is a UsageError naming the flag, what it
 * got and what it takes, so the user sees one line that says how to fix it.
 */
import { UsageError } from '../errors.js';

export interface NumberRange {
  min?: number;
  max?: number;
  /** exclusive lower bound */
  gt?: number;
  integer?: boolean;
}

export function parseNumber(flag: string, raw: string | number | undefined, range: NumberRange = {}): number {
  if (raw === undefined) throw new UsageError(`${flag} is required`);
  const text = String(raw).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) {
    throw new UsageError(`${flag} must be a number, got '${String(raw)}'`);
  }
  if (range.integer && !Number.isInteger(value)) {
    throw new UsageError(`${flag} must be a whole number, got '${String(raw)}'`);
  }
  if (range.min !== undefined && value < range.min) {
    throw new UsageError(`${flag} must be ≥ ${range.min}, got ${value}`);
  }
  if (range.gt !== undefined && value <= range.gt) {
    throw new UsageError(`${flag} must be > ${range.gt}, got ${value}`);
  }
  if (range.max !== undefined && value > range.max) {
    throw new UsageError(`${flag} must be ≤ ${range.max}, got ${value}`);
  }
  return value;
}

export function parseOptionalNumber(
  flag: string,
  raw: string | number | undefined,
  range: NumberRange = {},
): number | undefined {
  return raw === undefined ? undefined : parseNumber(flag, raw, range);
}

export function parseChoice<T extends string>(flag: string, raw: string | undefined, choices: readonly T[]): T {
  if (raw === undefined) throw new UsageError(`${flag} is required (one of: ${choices.join(', ')})`);
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`${flag}: unknown value '${raw}' (choose one of: ${choices.join(', ')})`);
  }
  return raw as T;
}

/** "1000,5000,10000" → [1000, 5000, 10000] */
export function parseNumberList(flag: string, raw: string, range: NumberRange = {}): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new UsageError(`${flag} must be a comma-separated list of numbers, got '${raw}'`);
  }
  return parts.map((p) => parseNumber(flag, p, range));
}
