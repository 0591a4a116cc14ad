import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './problem.js';
import { requestContextMiddleware } from './request-context.js';
import { healthRoutes, type Lifecycle } from './lifecycle.js';
import { jsonBody } from './body.js';
import { observeRequests } from './observe.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { tenantContext, type TenantContextDeps } from './tenant-context.js';
import { retryFencedWrites } from './fenced-retry.js';
import type { TenantLimits } from './tenant-limits.js';
import { usersRoutes } from './routes/users.js';
import type { UsersRepository } from '../data/users-repository.js';
import { productsRoutes, type ProductRoutesDeps } from './routes/products.js';
import { ordersRoutes } from './routes/orders.js';
import type { OrdersRepository } from '../data/orders-repository.js';
import { analyticsRoutes } from './routes/analytics.js';
import type { AnalyticsRepository } from '../data/analytics-repository.js';

export interface TenantAppDeps extends TenantContextDeps, Omit<ProductRoutesDeps, 'routingHeaders'> {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
  readonly bodyLimit: string;
  /** ms a write refused by a move's fence waits for the tenant's placement to move before its 503 */
  readonly fencedWriteWaitMs: number;
  readonly trustProxy: boolean;
  readonly users: UsersRepository;
  readonly orders: OrdersRepository;
  readonly analytics: AnalyticsRepository;
  /** per-tenant rate limit and concurrency cap; absent: unlimited (`limits.enabled: false`) */
  readonly limits?: TenantLimits;
}

/** The tenant API (port 8080): /v1/* behind tenant authentication, plus health probes. */
export function createTenantApp(deps: TenantAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags here are record versions, set explicitly
  app.set('trust proxy', deps.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestContextMiddleware());
  app.use(healthRoutes(deps.lifecycle));
  app.use(observeRequests(deps.metrics, deps.logger, 1000));

  const v1 = express.Router();
  v1.use(tenantContext(deps));
  if (deps.limits) v1.use(deps.limits.rate());
  v1.use(jsonBody(deps.bodyLimit));
  // the slot is taken once the body is in: a slow upload holds no slot of database work
  if (deps.limits) v1.use(deps.limits.concurrency());
  v1.use('/users', usersRoutes(deps.users));
  v1.use('/products', productsRoutes(deps));
  v1.use('/orders', ordersRoutes(deps));
  v1.use('/analytics', analyticsRoutes(deps.analytics));
  // a write refused by a move's fence is re-dispatched once the tenant's placement has moved
  app.use('/v1', retryFencedWrites(v1, deps.placement, { waitMs: deps.fencedWriteWaitMs }));

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return app;
}
