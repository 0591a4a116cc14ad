import type { A_Const, Node, TypeName } from 'libpg-query';
import { isBuiltInType, isDateTimeType, typeLabel } from './column-types.js';

// volatile by PostgreSQL's own marking: named so the message can say so outright
const VOLATILE = new Set([
  'random', 'random_normal', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v4', 'uuidv4', 'uuidv7',
  'clock_timestamp', 'timeofday', 'nextval', 'setval', 'txid_current', 'pg_current_xact_id',
]);

// date/time input that reads the clock when the statement runs
const CLOCK_WORDS = new Set(['now', 'today', 'tomorrow', 'yesterday']);

/**
 * Why a DEFAULT given to ADD COLUMN is not a plain constant, or undefined when it is one.
 * Only literals, casts of literals to built-in types and arrays of those pass: PostgreSQL
 * stores such a default once in the catalog (PostgreSQL 11+). A volatile function makes it
 * rewrite every row under ACCESS EXCLUSIVE; a stable one (now(), CURRENT_TIMESTAMP) is
 * evaluated once per shard, so every shard would keep a different value. Any other call or
 * operator is refused rather than guessed at.
 */
export function nonConstantDefault(expression: Node, columnType: TypeName): string | undefined {
  return problemIn(expression, isDateTimeType(columnType));
}

/** `timeInput`: a date/time type takes the value in somewhere above, as the column or a cast ('now'::text::date). */
function problemIn(expression: Node, timeInput: boolean): string | undefined {
  if ('A_Const' in expression) return timeInput ? clockLiteral(expression.A_Const) : undefined;
  if ('TypeCast' in expression) {
    const { arg, typeName } = expression.TypeCast;
    if (!typeName || !arg) return 'it is an incomplete cast';
    if (!isBuiltInType(typeName)) return `it casts to ${typeLabel(typeName)}, which is not a built-in type (a domain's checks run per row)`;
    return problemIn(arg, timeInput || isDateTimeType(typeName));
  }
  if ('A_ArrayExpr' in expression) {
    for (const element of expression.A_ArrayExpr.elements ?? []) {
      const problem = problemIn(element, timeInput);
      if (problem) return problem;
    }
    return undefined;
  }
  if ('FuncCall' in expression) {
    const name = (expression.FuncCall.funcname ?? []).map((n) => ('String' in n ? n.String.sval : '?')).join('.');
    const bare = name.split('.').at(-1) ?? name;
    return VOLATILE.has(bare)
      ? `it calls ${name}(), which is volatile: PostgreSQL would rewrite every row under ACCESS EXCLUSIVE`
      : `it calls ${name}(), which cannot be proven immutable: a volatile function rewrites every row under ACCESS EXCLUSIVE, a stable one (like now()) is evaluated once per shard so shards disagree`;
  }
  if ('SQLValueFunction' in expression) {
    const name = expression.SQLValueFunction.op?.slice('SVFOP_'.length) ?? 'a session value';
    return `it reads ${name}, which is evaluated once per shard when the statement runs, so every shard would keep a different value`;
  }
  return 'it is an expression, not a constant';
}

/** 'now' and its kin are constants to the grammar but read the clock when a date/time type takes them in. */
function clockLiteral(constant: A_Const): string | undefined {
  const text = constant.sval?.sval?.trim().toLowerCase();
  if (text === undefined || !CLOCK_WORDS.has(text)) return undefined;
  return `'${text}' is read as the moment each shard runs the statement, so every shard would keep a different value`;
}
