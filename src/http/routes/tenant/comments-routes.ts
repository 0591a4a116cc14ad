import express, { type Router } from 'express';
import type { CommentsRepository } from '../../../data/comments/comments-repository.js';
import type { CommentSubjectType } from '../../../models/index.js';
import { commentCreate, commentList, commentPatch, subjectCommentList } from '../../input/comment-input.js';
import { pageUnlessCursor, parseIfMatch, parseSort, recordId } from '../../input/record-params.js';
import { parseInput } from '../../input/validation.js';
import { sessionOf } from '../../middleware/tenant-context.js';
import { sendRecord } from './versioned-record-routes.js';

/** /v1/{users,products,orders}/:id/comments: one subject's comments (mounted with the subject's id in the path). */
export function subjectCommentsRoutes(comments: CommentsRepository, subjectType: CommentSubjectType): Router {
  const router = express.Router({ mergeParams: true });

  router.post('/', async (req, res) => {
    const subjectId = recordId(req, subjectType);
    const input = parseInput(commentCreate, req.body);
    const comment = await comments.create(sessionOf(res), subjectType, subjectId, input.body);
    res.setHeader('Location', `/v1/comments/${comment.id}`);
    sendRecord(res, 201, comment);
  });

  router.get('/', async (req, res) => {
    const subjectId = recordId(req, subjectType);
    const q = parseInput(subjectCommentList, { ...req.query });
    res.json(await comments.listForSubject(sessionOf(res), subjectType, subjectId, { ...q, page: pageUnlessCursor(q), sort: parseSort<'createdAt'>(q.sort) }));
  });

  return router;
}

/** /v1/comments: the tenant's comments with their subjects, and one comment's edits. */
export function commentsRoutes(comments: CommentsRepository): Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const q = parseInput(commentList, { ...req.query });
    res.json(await comments.list(sessionOf(res), { ...q, page: pageUnlessCursor(q), sort: parseSort<'createdAt'>(q.sort) }));
  });

  router.get('/:id', async (req, res) => {
    sendRecord(res, 200, await comments.get(sessionOf(res), recordId(req, 'comment')));
  });

  router.patch('/:id', async (req, res) => {
    const id = recordId(req, 'comment');
    const expected = parseIfMatch(req.header('if-match'));
    const patch = parseInput(commentPatch, req.body);
    sendRecord(res, 200, await comments.update(sessionOf(res), id, patch, expected));
  });

  router.delete('/:id', async (req, res) => {
    await comments.remove(sessionOf(res), recordId(req, 'comment'));
    res.status(204).end();
  });

  router.post('/:id/restore', async (req, res) => {
    sendRecord(res, 200, await comments.restore(sessionOf(res), recordId(req, 'comment')));
  });

  return router;
}
