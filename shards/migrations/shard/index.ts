import type { Migration } from '../../../src/schema/migrator.js';
import { shard0001 } from './0001-users.js';
import { shard0002 } from './0002-commerce.js';

/** Shard migrations in the order they apply; append, never reorder or edit a landed one. */
export const shardMigrations: readonly Migration[] = [shard0001, shard0002];
