import type { RequestContext } from '../context/request-context.js';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import type { PlacementService } from '../placement/placement-service.js';
import type { UsersRepository } from '../data/users/users-repository.js';
import type { ProductsRepository } from '../data/products/products-repository.js';
import type { ProductBatches } from '../data/products/product-batches.js';
import type { OrdersRepository } from '../data/orders/orders-repository.js';
import type { AnalyticsRepository } from '../data/analytics/analytics-repository.js';
import type { AuditTrail } from '../data/audit/audit-trail.js';
import type { CommentsRepository } from '../data/comments/comments-repository.js';
import type { SeriesRepository } from '../data/series/series-repository.js';
import { errorHandler, notFoundHandler } from './problem.js';
import { RouteTable } from './route-table.js';
import { healthRoutes, type Lifecycle } from './lifecycle.js';
import { requestScope } from './middleware/request-scope.js';
import { ServerSpans } from '../telemetry/server-spans.js';
import { jsonBody } from './middleware/json-body.js';
import { observeRequests } from './middleware/observe-requests.js';
import { tenantContext, type TenantContextDeps } from './middleware/tenant-context.js';
import { retryFencedWrites } from './middleware/fenced-retry.js';
import type { TenantLimits } from './middleware/tenant-limits.js';
import { usersRoutes } from './routes/tenant/users-routes.js';
import { productsRoutes } from './routes/tenant/products-routes.js';
import { productBatchRoutes } from './routes/tenant/product-batch-routes.js';
import { ordersRoutes } from './routes/tenant/orders-routes.js';
import { analyticsRoutes } from './routes/tenant/analytics-routes.js';
import { auditRoutes } from './routes/tenant/audit-routes.js';
import { commentsRoutes, subjectCommentsRoutes } from './routes/tenant/comments-routes.js';
import { seriesRoutes } from './routes/tenant/series-routes.js';
import { transfersRoutes, type TransfersRoutesDeps } from './routes/tenant/transfers-routes.js';

export interface TenantAppDeps extends TenantContextDeps {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** told as each response is finished, with the request's context (the tenant's usage) */
  readonly requestFinished?: (ctx: RequestContext, status: number) => void;
  readonly lifecycle: Lifecycle;
  readonly bodyLimit: string;
  /** POST /v1/series carries up to 10,000 points: its own, larger limit */
  readonly seriesBodyLimit: string;
  readonly trustProxy: boolean;
  /** a fenced write waits for this placement to move the tenant before it is retried */
  readonly placement: PlacementService;
  /** ms a write refused by a move's fence waits for the tenant's placement to move before its 503 */
  readonly fencedWriteWaitMs: number;
  readonly users: UsersRepository;
  readonly products: ProductsRepository;
  readonly batches: ProductBatches;
  /** most items one product batch may carry */
  readonly batchMax: number;
  readonly orders: OrdersRepository;
  readonly analytics: AnalyticsRepository;
  readonly audit: AuditTrail;
  readonly comments: CommentsRepository;
  readonly series: SeriesRepository;
  readonly transfers: TransfersRoutesDeps;
  /** per-tenant rate limit and concurrency cap; absent: unlimited (`limits.enabled: false`) */
  readonly limits?: TenantLimits | undefined;
}

/** An app and the routes it answers. */
export interface RoutedApp {
  readonly app: Express;
  readonly routes: RouteTable;
}

/** The tenant API (port 8080): /v1/* behind tenant authentication, plus health probes. */
export function createTenantApp(deps: TenantAppDeps): RoutedApp {
  const app = express();
  const routes = new RouteTable();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags here are record versions, set explicitly
  app.set('trust proxy', deps.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestScope(new ServerSpans()));
  routes.mount(app, '/', healthRoutes(deps.lifecycle));
  app.use(observeRequests(deps.metrics, deps.logger, 1000, deps.requestFinished));

  const v1 = express.Router();
  v1.use(tenantContext(deps));
  if (deps.limits) v1.use(deps.limits.rate());
  // parsed here, the general parser below leaves it be
  v1.use('/series', jsonBody(deps.seriesBodyLimit));
  v1.use(jsonBody(deps.bodyLimit));
  // the slot is taken once the body is in: a slow upload holds no slot of database work
  if (deps.limits) v1.use(deps.limits.concurrency());
  // products first: the hottest reads match after the fewest path tests (batch before the
  // records, whose `/:id` would take "batch"; no subject router matches `/:id/comments`)
  routes.mount(v1, '/products/batch', productBatchRoutes({ batches: deps.batches, batchMax: deps.batchMax }), '/v1');
  routes.mount(v1, '/products', productsRoutes(deps.products), '/v1');
  routes.mount(v1, '/users/:id/comments', subjectCommentsRoutes(deps.comments, 'user'), '/v1');
  routes.mount(v1, '/products/:id/comments', subjectCommentsRoutes(deps.comments, 'product'), '/v1');
  routes.mount(v1, '/orders/:id/comments', subjectCommentsRoutes(deps.comments, 'order'), '/v1');
  routes.mount(v1, '/comments', commentsRoutes(deps.comments), '/v1');
  routes.mount(v1, '/users', usersRoutes(deps.users), '/v1');
  routes.mount(v1, '/orders', ordersRoutes(deps.orders), '/v1');
  routes.mount(v1, '/analytics', analyticsRoutes(deps.analytics), '/v1');
  routes.mount(v1, '/audit', auditRoutes(deps.audit), '/v1');
  routes.mount(v1, '/series', seriesRoutes(deps.series), '/v1');
  routes.mount(v1, '/transfers', transfersRoutes(deps.transfers), '/v1');
  // a write refused by a move's fence is re-dispatched once the tenant's placement has moved
  app.use('/v1', retryFencedWrites(v1, deps.placement, { waitMs: deps.fencedWriteWaitMs }));

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return { app, routes };
}
