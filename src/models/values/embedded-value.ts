import { DataTypes, type Model, type ModelAttributeColumnOptions, type CreationOptional } from 'sequelize';
import type { z } from 'zod';

type Column = ModelAttributeColumnOptions<Model>;
/** a value object's shape: named parts, each a string or null */
type Parts<V> = { [K in keyof V]: string | null };

/**
 * A value object: no identity, compared by its parts, stored inside its owner. One
 * definition holds its parts' column types and its one validator, used at the HTTP edge
 * and again by the model, so no path writes a value the API would refuse.
 */
export interface ValueObject<V extends Parts<V>> {
  readonly name: string;
  /** each part's column type; every part column is nullable (a null value is all nulls) */
  readonly columns: { readonly [K in keyof V & string]: Column['type'] };
  readonly schema: z.ZodType<V, unknown>;
}

/** The model attributes a value embedded under `prefix` adds: `shipping` + `postalCode` → `shippingPostalCode`. */
export type EmbeddedParts<V extends Parts<V>, P extends string> = {
  [K in keyof V & string as `${P}${Capitalize<K>}`]: CreationOptional<V[K] | null>;
};

export function partAttribute(prefix: string, part: string): string {
  return `${prefix}${part.charAt(0).toUpperCase()}${part.slice(1)}`;
}

/** The part attributes of a value object embedded under `prefix` (to load just them: `attributes: [...]`). */
export function embeddedAttributes<V extends Parts<V>>(value: ValueObject<V>, prefix: string): string[] {
  return Object.keys(value.columns).map((part) => partAttribute(prefix, part));
}

/** A value that did not pass its value object's validator, set by code that skipped the edge. */
export class InvalidValueError extends Error {}

/**
 * The attributes that embed a value object in a model as prefixed columns of the owner's
 * row (underscored: `shipping_postal_code`), never a JSON blob or a table of its own, so
 * its parts can be indexed and filtered. The virtual `attribute` reads the value whole
 * (null when every part is null) and writes it whole: setting it replaces every part,
 * null clears them all, so a PATCH of part of a value is a new value, validated as one.
 */
export function embeddedValue<V extends Parts<V>, A extends string, P extends string>(
  value: ValueObject<V>,
  attribute: A,
  prefix: P,
): Record<A | keyof EmbeddedParts<V, P>, Column> {
  const parts = Object.keys(value.columns) as Array<keyof V & string>;
  const columns: Record<string, Column> = {};
  for (const part of parts) columns[partAttribute(prefix, part)] = { type: value.columns[part], allowNull: true };
  columns[attribute] = {
    type: DataTypes.VIRTUAL,
    get(this: Model): V | null {
      const read = Object.fromEntries(parts.map((part) => [part, (this.getDataValue(partAttribute(prefix, part) as never) as string | null | undefined) ?? null]));
      return parts.every((part) => read[part] === null) ? null : (read as V);
    },
    set(this: Model, input: unknown) {
      let parsed: V | null = null;
      if (input !== null && input !== undefined) {
        const result = value.schema.safeParse(input);
        if (!result.success) throw new InvalidValueError(`${attribute}: not a valid ${value.name} (${result.error.issues[0]?.message ?? 'invalid'})`);
        parsed = result.data;
      }
      for (const part of parts) this.setDataValue(partAttribute(prefix, part) as never, (parsed === null ? null : (parsed[part] ?? null)) as never);
    },
  };
  return columns as Record<A | keyof EmbeddedParts<V, P>, Column>;
}
