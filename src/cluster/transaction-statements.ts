import type { Sequelize } from 'sequelize';

interface TransactionLike {
  readonly parent?: unknown;
  readonly name?: string;
  readonly options: { readonly isolationLevel?: string | null };
}

interface TransactionQueryGenerator {
  startTransactionQuery(transaction: TransactionLike): string;
  setIsolationLevelQuery(value: string, options: { parent?: unknown }): string | undefined;
  quoteIdentifier(name: string, force?: boolean): string;
}

/** The isolation levels a transaction may ask for, as PostgreSQL spells them. */
const LEVELS = new Set(['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']);

/**
 * Sequelize opens a transaction with `START TRANSACTION` and then, in a round trip of its own,
 * `SET TRANSACTION ISOLATION LEVEL …`; PostgreSQL takes the level in the first statement.
 * On this instance a transaction begins in one statement — `START TRANSACTION ISOLATION LEVEL
 * …` — one round trip less for every write transaction (savepoints unchanged).
 */
export function beginInOneStatement(sequelize: Sequelize): void {
  const generator = sequelize.getQueryInterface().queryGenerator as unknown as TransactionQueryGenerator;
  generator.startTransactionQuery = (transaction) => {
    if (transaction.parent) return `SAVEPOINT ${generator.quoteIdentifier(transaction.name ?? '', true)};`;
    const level = transaction.options.isolationLevel;
    if (level === undefined || level === null) return 'START TRANSACTION;';
    if (!LEVELS.has(level)) throw new Error(`unknown isolation level ${level}`);
    return `START TRANSACTION ISOLATION LEVEL ${level};`;
  };
  // said in START TRANSACTION already: Sequelize skips the statement when there is none
  generator.setIsolationLevelQuery = () => undefined;
}
