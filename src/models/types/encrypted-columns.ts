import { inspect } from 'node:util';
import { DataTypes, type Model, type ModelAttributeColumnOptions, type ModelStatic } from 'sequelize';
import { FieldIntegrityError, type FieldPlace } from '../../errors/errors.js';
import { Keyring } from './keyring.js';

/** Told of every stored value that fails to open, before the error goes up: the operators' alarm. */
export type FieldIntegrityAlarm = (err: FieldIntegrityError) => void;

export interface EncryptedColumnsSpec<A extends string> {
  /** the table, as named in every value's associated data */
  readonly table: string;
  /** model attribute → database column (the column, not the attribute, is sealed into each value) */
  readonly columns: Readonly<Record<A, string>>;
}

type Row = Model & { tenantId: string; id: string };

/**
 * A plaintext set on a row, waiting for the row's hooks to seal it once its tenant and id
 * are known. Its text stays in a private field: a row dumped to a log shows no plaintext.
 */
class Unsealed {
  readonly #plaintext: string;

  constructor(plaintext: string) {
    this.#plaintext = plaintext;
  }

  get plaintext(): string {
    return this.#plaintext;
  }

  toJSON(): string {
    return '[unsealed]';
  }

  [inspect.custom](): string {
    return '[unsealed]';
  }
}

/**
 * The encrypted columns of one model: the database holds only AES-256-GCM ciphertext
 * sealed to its place (tenant, table, column, row id), so a value copied into another row,
 * column or tenant fails to open (`FieldIntegrityError`, DATA_INTEGRITY) instead of reading
 * as the other row's secret. Values are sealed in the row's beforeValidate/beforeSave hooks
 * (the row's id is its app-made UUID v7 default, known from `build`), opened on read, and a
 * value in the older `enc1` format (no associated data) is resealed as `enc2` whenever its
 * row is next saved. Each encryption uses a fresh IV: the columns cannot be searched or
 * made unique; look rows up by something else.
 */
export class EncryptedColumns<A extends string> {
  readonly #keyring: Keyring;
  readonly #spec: EncryptedColumnsSpec<A>;
  readonly #alarm: FieldIntegrityAlarm;

  constructor(keyring: Keyring, spec: EncryptedColumnsSpec<A>, alarm: FieldIntegrityAlarm) {
    this.#keyring = keyring;
    this.#spec = Object.freeze({ table: spec.table, columns: Object.freeze({ ...spec.columns }) });
    this.#alarm = alarm;
  }

  /** The attribute definitions to spread into the model's `init`. */
  attributes(): Record<A, ModelAttributeColumnOptions<Model>> {
    const out = {} as Record<A, ModelAttributeColumnOptions<Model>>;
    const open = (row: Row, column: string, stored: string) => this.#open(row, column, stored);
    for (const [attribute, column] of this.#entries()) {
      out[attribute] = {
        type: DataTypes.TEXT,
        allowNull: true,
        field: column,
        get(this: Model) {
          const stored = this.getDataValue(attribute) as unknown;
          if (stored === null || stored === undefined) return stored;
          if (stored instanceof Unsealed) return stored.plaintext;
          return open(this as Row, column, String(stored));
        },
        set(this: Model, value: unknown) {
          if (value === null || value === undefined) this.setDataValue(attribute, null);
          else if (typeof value === 'string') this.setDataValue(attribute, new Unsealed(value));
          else throw new TypeError(`${attribute} must be a string`);
        },
      };
    }
    return out;
  }

  /** Hooks the model (after its `init`): seals new values, reseals `enc1` values on the row's next save. */
  attach(model: ModelStatic<Row>): void {
    // before validation, so the column's type check sees text; again before save, for saves that skip validation
    model.addHook('beforeValidate', 'encryptedColumns', (row: Row) => this.#sealPending(row));
    // Sequelize adds columns a beforeSave hook changes to an UPDATE (not ones changed during
    // validation): the reseal of an old-format value happens here
    model.addHook('beforeSave', 'encryptedColumns', (row: Row) => {
      this.#sealPending(row);
      if (!row.isNewRecord) this.#resealLegacy(row);
    });
    model.addHook('beforeBulkCreate', 'encryptedColumns', (rows: Row[]) => {
      for (const row of rows) this.#sealPending(row);
    });
  }

  #entries(): Array<[A, string]> {
    return Object.entries(this.#spec.columns) as Array<[A, string]>;
  }

  #place(row: Row, column: string): FieldPlace {
    const tenantId = row.getDataValue('tenantId') as unknown;
    const rowId = row.getDataValue('id') as unknown;
    // sealed or opened at the wrong place, a value would be lost or read as corrupt: refuse instead
    if (typeof tenantId !== 'string' || typeof rowId !== 'string' || tenantId === '' || rowId === '') {
      throw new Error(`${this.#spec.table}.${column} needs the row's tenantId and id (write it through the row, with both loaded)`);
    }
    return { tenantId, table: this.#spec.table, column, rowId };
  }

  #open(row: Row, column: string, stored: string): string {
    try {
      return this.#keyring.open(stored, this.#place(row, column));
    } catch (err) {
      if (err instanceof FieldIntegrityError) this.#alarm(err);
      throw err;
    }
  }

  #sealPending(row: Row): void {
    for (const [attribute, column] of this.#entries()) {
      const value = row.getDataValue(attribute) as unknown;
      if (value instanceof Unsealed) row.setDataValue(attribute, this.#keyring.seal(value.plaintext, this.#place(row, column)));
    }
  }

  #resealLegacy(row: Row): void {
    for (const [attribute, column] of this.#entries()) {
      const value = row.getDataValue(attribute) as unknown;
      if (typeof value === 'string' && Keyring.formatOf(value) === 'enc1') {
        row.setDataValue(attribute, this.#keyring.seal(this.#open(row, column, value), this.#place(row, column)));
      }
    }
  }
}
