/**
 * Every column an expression reads, by its last name part (`orders.status` → `status`).
 * Index expressions, partial-index predicates and CHECKs can only read their own table, so
 * the last part is the one the shard schema must have. Walks the tree generically, so a
 * node kind added by a later grammar cannot hide a column reference.
 */
export function columnsReadBy(expression: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'ColumnRef') {
        const last = (child as { fields?: unknown[] }).fields?.at(-1);
        const name = (last as { String?: { sval?: string } } | undefined)?.String?.sval;
        if (name !== undefined) found.push(name);
      } else {
        visit(child);
      }
    }
  };
  visit(expression);
  return found;
}
