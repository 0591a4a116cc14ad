/**
 * Exact money arithmetic in integer cents (BigInt): a price is numeric(12,2) text from
 * PostgreSQL ('19.99'), and 3 × 19.99 must be 59.97, never 59.970000000000006. The
 * product of the largest price and quantity passes 2^53, hence BigInt, not number.
 */

const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/;

/** '19.99' → 1999n; '5' → 500n. Throws on anything that is not a non-negative 2-place decimal. */
export function toCents(text: string): bigint {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new Error(`not a money amount: ${JSON.stringify(text)}`);
  return BigInt(match[1]!) * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
}

/** 1999n → '19.99', as numeric text for the database. */
export function fromCents(cents: bigint): string {
  if (cents < 0n) throw new Error('negative money amount');
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** numeric(14,2) holds amounts below 10^12: the widest column an order amount goes into. */
export const MAX_AMOUNT_CENTS = 10n ** 14n - 1n;

/** A stored amount for the API: a JSON number with at most two decimals (like product prices). */
export function amountNumber(text: string): number {
  return Number(text);
}
