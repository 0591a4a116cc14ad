import express from 'express';
import type { Logger } from 'pino';
import { errorHandler, notFoundHandler } from './problem.js';
import { RouteTable } from './route-table.js';
import type { RoutedApp } from './tenant-app.js';
import { requestScope } from './middleware/request-scope.js';
import { ServerSpans } from '../telemetry/server-spans.js';
import { healthRoutes, type Lifecycle } from './lifecycle.js';
import { jsonBody } from './middleware/json-body.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { adminAuth, type AdminAuthThrottle } from './middleware/admin-auth.js';
import { adminTenantsRoutes, type AdminTenantsDeps } from './routes/admin/tenants-routes.js';
import { adminTenantKeysRoutes, type AdminTenantKeysDeps } from './routes/admin/tenant-keys-routes.js';
import { adminShardsRoutes, type AdminShardsDeps } from './routes/admin/shards-routes.js';
import { adminShardAddRoutes, type AdminShardAddDeps } from './routes/admin/shard-add-routes.js';
import { adminShardDrainRoutes } from './routes/admin/shard-drain-routes.js';
import { adminRebalanceRoutes } from './routes/admin/rebalance-routes.js';
import { adminTenantMoveRoutes, type AdminTenantMoveDeps } from './routes/admin/tenant-move-routes.js';
import { adminJobsRoutes } from './routes/admin/jobs-routes.js';
import { adminBackupsRoutes, type AdminBackupsDeps } from './routes/admin/backups-routes.js';
import { adminPartnershipsRoutes, type AdminPartnershipsDeps } from './routes/admin/partnerships-routes.js';
import { adminTransactionsRoutes, type AdminTransactionsDeps } from './routes/admin/transactions-routes.js';
import { adminSchemaChangesRoutes, type AdminSchemaChangesDeps } from './routes/admin/schema-changes-routes.js';
import { adminTenantExportRoutes, type AdminTenantExportDeps } from './routes/admin/tenant-export-routes.js';
import { adminTenantImportRoutes, type AdminTenantImportDeps } from './routes/admin/tenant-import-routes.js';
import { queryStatsRoutes, type QueryStatsRoutesDeps } from './routes/insights/query-stats-routes.js';
import { usageRoutes, type UsageRoutesDeps } from './routes/insights/usage-routes.js';
import { slowQueriesRoutes, type SlowQueriesRoutesDeps } from './routes/insights/slow-queries-routes.js';
import { findingsRoutes, type FindingsRoutesDeps } from './routes/insights/findings-routes.js';

export interface AdminAppDeps extends AdminBackupsDeps, AdminSchemaChangesDeps, AdminPartnershipsDeps, AdminTransactionsDeps, AdminTenantsDeps, AdminTenantKeysDeps, AdminShardsDeps, AdminShardAddDeps, AdminTenantMoveDeps, AdminTenantExportDeps, AdminTenantImportDeps, Omit<QueryStatsRoutesDeps, 'logger'>, UsageRoutesDeps, SlowQueriesRoutesDeps, FindingsRoutesDeps {
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly adminToken: string;
  /** wrong admin tokens counted per client address */
  readonly adminAuthThrottle: AdminAuthThrottle;
  /** Express's `trust proxy`: whether X-Forwarded-For names the client the throttle counts */
  readonly trustProxy: boolean;
  readonly metrics: GatewayMetrics;
}

/** The admin API (port 8081): tenants, shards, ring; bearer GATEWAY_ADMIN_TOKEN. */
export function createAdminApp(deps: AdminAppDeps): RoutedApp {
  const app = express();
  const routes = new RouteTable();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.trustProxy);
  app.use(requestScope(new ServerSpans()));
  routes.mount(app, '/', healthRoutes(deps.lifecycle));
  // Prometheus scrapes without the admin token: the admin port is reachable only from
  // inside the cluster (NetworkPolicy), and metrics carry no secrets (tenant ids only of
  // each pod's few busiest tenants)
  const metrics = express.Router();
  metrics.get('/metrics', async (_req, res) => {
    const { contentType, body } = await deps.metrics.render();
    res.type(contentType).send(body);
  });
  routes.mount(app, '/', metrics);

  const admin = express.Router();
  admin.use(adminAuth(deps.adminToken, deps.adminAuthThrottle));
  // reads its NDJSON body as a stream: before the JSON body parser
  routes.mount(admin, '/', adminTenantImportRoutes(deps), '/admin');
  admin.use(jsonBody('1mb'));
  routes.mount(admin, '/tenants', adminTenantsRoutes(deps), '/admin');
  routes.mount(admin, '/', adminTenantKeysRoutes(deps), '/admin');
  routes.mount(admin, '/', adminShardsRoutes(deps), '/admin');
  // tenant moves, rebalancing and draining (docs/moves.md)
  routes.mount(admin, '/', adminShardAddRoutes(deps), '/admin');
  routes.mount(admin, '/', adminShardDrainRoutes(deps), '/admin');
  routes.mount(admin, '/', adminRebalanceRoutes(deps), '/admin');
  routes.mount(admin, '/', adminTenantMoveRoutes(deps), '/admin');
  routes.mount(admin, '/', adminJobsRoutes(deps), '/admin');
  routes.mount(admin, '/', adminPartnershipsRoutes(deps), '/admin');
  routes.mount(admin, '/', adminTransactionsRoutes(deps), '/admin');
  routes.mount(admin, '/', adminSchemaChangesRoutes(deps), '/admin');
  routes.mount(admin, '/', adminTenantExportRoutes(deps), '/admin');
  routes.mount(admin, '/', adminBackupsRoutes(deps), '/admin');
  // insights: what the fleet's statements and tenants cost, and the hot tenants
  routes.mount(admin, '/query-stats', queryStatsRoutes(deps), '/admin');
  routes.mount(admin, '/slow-queries', slowQueriesRoutes(deps), '/admin');
  routes.mount(admin, '/', usageRoutes(deps), '/admin');
  routes.mount(admin, '/', findingsRoutes(deps), '/admin');
  app.use('/admin', admin);

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return { app, routes };
}
