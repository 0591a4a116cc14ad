import { z } from 'zod';
import { COMMENT_BODY_MAX, COMMENT_SORTABLE, COMMENT_SUBJECT_TYPES } from '../../models/index.js';
import { listInput } from './list-input.js';
import { queryValue, safeString } from './validation.js';

const body = safeString(1, COMMENT_BODY_MAX).refine((s) => s.trim().length > 0, 'must not be blank');

export const commentCreate = z.strictObject({ body });
export const commentPatch = z.strictObject({ body });

/** GET /v1/{users,products,orders}/:id/comments */
export const subjectCommentList = listInput(COMMENT_SORTABLE, {});

/** GET /v1/comments */
export const commentList = listInput(COMMENT_SORTABLE, {
  subjectType: queryValue.pipe(z.enum(COMMENT_SUBJECT_TYPES, { error: `must be one of ${COMMENT_SUBJECT_TYPES.join(', ')}` })).optional(),
});
