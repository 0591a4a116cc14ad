import type { Migration } from '../migration.js';
import { catalog0001 } from './0001-catalog.js';
import { catalog0002 } from './0002-move-jobs.js';
import { catalog0003 } from './0003-api-keys.js';
import { catalog0004 } from './0004-shard-admin-urls.js';
import { catalog0005 } from './0005-transactions.js';
import { catalog0006 } from './0006-tenant-erase.js';
import { catalog0007 } from './0007-schema-changes.js';
import { catalog0008 } from './0008-schema-change-kinds.js';
import { catalog0009 } from './0009-placement-history.js';
import { catalog0010 } from './0010-backups.js';
import { catalog0011 } from './0011-tombstone-index.js';

/** Catalog migrations in the order they apply; append, never reorder or edit a landed one. */
export const catalogMigrations: readonly Migration[] = [catalog0001, catalog0002, catalog0003, catalog0004, catalog0005, catalog0006, catalog0007, catalog0008, catalog0009, catalog0010, catalog0011];
