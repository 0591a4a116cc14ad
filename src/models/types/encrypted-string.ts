import { DataTypes, type Model, type ModelAttributeColumnOptions } from 'sequelize';
import type { Keyring } from './keyring.js';

/**
 * A column type for sensitive strings: the database holds only AES-256-GCM ciphertext
 * (with its key id); the model decrypts on read. Because every encryption uses a fresh
 * IV, the column cannot be searched or made unique: look rows up by something else.
 */
export function encryptedString(keyring: Keyring, field: string): ModelAttributeColumnOptions<Model> {
  return {
    type: DataTypes.TEXT,
    allowNull: true,
    get(this: Model) {
      const stored = this.getDataValue(field) as string | null | undefined;
      return stored === null || stored === undefined ? stored : keyring.decrypt(stored);
    },
    set(this: Model, value: unknown) {
      if (value === null || value === undefined) this.setDataValue(field, null);
      else if (typeof value === 'string') this.setDataValue(field, keyring.encrypt(value));
      else throw new TypeError(`${field} must be a string`);
    },
  };
}
