import type { Migration } from '../../../src/schema/migrator.js';
import { shard0001 } from './0001-users.js';

/** Shard migrations in the order they apply; append, never reorder or edit a landed one. */
export const shardMigrations: readonly Migration[] = [shard0001];
