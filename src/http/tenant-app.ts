import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './problem.js';
import { requestContextMiddleware } from './request-context.js';
import { healthRoutes, type Lifecycle } from './lifecycle.js';
import { jsonBody } from './body.js';
import { observeRequests } from './observe.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { tenantContext, type TenantContextDeps } from './tenant-context.js';
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
  readonly trustProxy: boolean;
  readonly users: UsersRepository;
  readonly orders: OrdersRepository;
  readonly analytics: AnalyticsRepository;
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
  v1.use(jsonBody(deps.bodyLimit));
  v1.use('/users', usersRoutes(deps.users));
  v1.use('/products', productsRoutes(deps));
  v1.use('/orders', ordersRoutes(deps));
  v1.use('/analytics', analyticsRoutes(deps.analytics));
  app.use('/v1', v1);

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return app;
}
