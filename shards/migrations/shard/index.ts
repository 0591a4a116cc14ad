import type { Migration } from '../migration.js';
import { shard0001 } from './0001-users.js';
import { shard0002 } from './0002-commerce.js';
import { shard0003 } from './0003-move-fence.js';
import { shard0004 } from './0004-row-level-security.js';
import { shard0005 } from './0005-audit-trail-index.js';
import { shard0006 } from './0006-addresses.js';
import { shard0007 } from './0007-comments.js';
import { shard0008 } from './0008-series.js';
import { shard0009 } from './0009-series-statement-fence.js';
import { shard0010 } from './0010-transfers.js';
import { shard0011 } from './0011-schema-changes-applied.js';
import { shard0012 } from './0012-fence-row-security.js';
import { shard0013 } from './0013-move-change-tracking.js';
import { shard0014 } from './0014-query-stats.js';

/** Shard migrations in the order they apply; append, never reorder or edit a landed one. */
export const shardMigrations: readonly Migration[] = [shard0001, shard0002, shard0003, shard0004, shard0005, shard0006, shard0007, shard0008, shard0009, shard0010, shard0011, shard0012, shard0013, shard0014];
export { ensureSeriesPartitions } from './0008-series.js';
