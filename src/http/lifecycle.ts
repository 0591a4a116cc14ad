import type { Router } from 'express';
import express from 'express';

export type LifecycleState = 'starting' | 'ready' | 'draining';

/** Readiness as a small state machine: /readyz answers 200 only while `ready`. */
export class Lifecycle {
  state: LifecycleState = 'starting';

  get ready(): boolean {
    return this.state === 'ready';
  }
}

/** /healthz (the process is alive) and /readyz (send it traffic), on both listeners. */
export function healthRoutes(lifecycle: Lifecycle): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    res.status(lifecycle.ready ? 200 : 503);
    if (!lifecycle.ready) res.setHeader('Retry-After', '1');
    res.json({ status: lifecycle.state });
  });
  return router;
}
