import { AUDITED_TABLES, AUDIT_SORTABLE, UUID_PATTERN } from '../../models/index.js';
import { listInput } from './list-input.js';
import { SERIES_NAME } from './series-input.js';
import { queryValue } from './validation.js';

/** `GET /v1/audit`: the trail of one table, of one record, or all of it; paged like every list. */
export const auditList = listInput(AUDIT_SORTABLE, {
  table: queryValue.refine((v) => (AUDITED_TABLES as readonly string[]).includes(v), `must be one of ${AUDITED_TABLES.join(', ')}`).optional(),
  // a record's id (a UUID), or a series name for series_points (one audit row per series a batch wrote)
  recordId: queryValue.refine((v) => UUID_PATTERN.test(v) || SERIES_NAME.test(v), 'must be a record id (a UUID) or a series name').optional(),
});
