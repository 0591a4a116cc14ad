import { DataTypes, type Model, type ModelAttributeColumnOptions } from 'sequelize';

/** Why a value would not come back from jsonb as it went in, or undefined if it would. */
export function jsonbProblem(value: unknown, path = '$', depth = 0): string | undefined {
  if (depth > 64) return `${path}: nested too deeply`;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'string') return value.includes('\u0000') ? `${path}: NUL characters cannot be stored` : undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${path}: ${value} is not a JSON number`;
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) return `${path}: integer beyond 2^53 loses precision`;
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonbProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, inner] of Object.entries(value)) {
      if (key.includes('\u0000')) return `${path}: NUL characters cannot be stored in keys`;
      if (inner === undefined) return `${path}.${key}: undefined is not JSON`;
      const problem = jsonbProblem(inner, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${path}: ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value} is not plain JSON`;
}

/**
 * jsonb that round-trips exactly: values that jsonb or JSON would silently change (Dates
 * turned into strings, undefined dropped, NaN turned null, big integers rounded, NUL
 * rejected by PostgreSQL at write time) are refused on set instead; a missing value reads
 * as `{}` rather than SQL NULL. (jsonb does not keep key order; no JSON consumer should
 * depend on it.)
 */
export function exactJsonb(field: string, options: { defaultValue?: object } = {}): ModelAttributeColumnOptions<Model> {
  return {
    type: DataTypes.JSONB,
    allowNull: false,
    defaultValue: options.defaultValue ?? {},
    validate: {
      roundTrips(value: unknown) {
        const problem = jsonbProblem(value);
        if (problem) throw new Error(problem);
      },
    },
    set(this: Model, value: unknown) {
      this.setDataValue(field, value === undefined || value === null ? (options.defaultValue ?? {}) : structuredClone(value));
    },
  };
}
