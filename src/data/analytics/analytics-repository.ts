import type { TenantSession } from '../tenant-session.js';

/**
 * Analytics over one tenant's orders, in raw SQL on the node the session chose (a
 * replica when it is fresh enough). Rules every query here keeps:
 * - `tenant_id = $1` on every table it touches: isolation by explicit predicate, never
 *   by a join alone (ids are unique per tenant only; another tenant may reuse them);
 * - only `confirmed` orders count; money is summed as SQL numeric and sent back as text,
 *   so the only rounding is the final Number() of an exact two-decimal value;
 * - months are UTC months, whatever the session's TimeZone.
 * Customer and monthly revenue is `orders.total`; product revenue is `order_items.line_total`.
 * Soft-deleted customers and products are hidden from the ranked lists (as everywhere in
 * the API; a restore brings them back), but their orders are history and still count in
 * the monthly revenue and, for deleted customers, in the product ranking.
 */

export interface TopCustomer {
  readonly customerId: string;
  readonly username: string;
  readonly email: string;
  readonly orders: number;
  readonly revenue: number;
}

export interface MonthRevenue {
  /** 'YYYY-MM', UTC */
  readonly month: string;
  readonly orders: number;
  readonly revenue: number;
  /** the month before's revenue (January: December of the year before), 0 when none */
  readonly previousRevenue: number;
  readonly change: number;
}

export interface ProductRank {
  readonly productId: string;
  readonly name: string;
  readonly categoryId: string | null;
  readonly unitsSold: number;
  readonly revenue: number;
  /** RANK() by revenue over all the tenant's live products: ties share a rank */
  readonly rank: number;
  /** RANK() by revenue within the product's category (uncategorised products form one) */
  readonly categoryRank: number;
}

/** pg sends numeric and bigint as text; both are exact, so Number() of them is the one rounding */
type Num = string | number;

// Customers whose confirmed orders bring revenue, best first; soft-deleted customers are
// hidden here as everywhere in the API (their orders still count in revenue-by-month).
const TOP_CUSTOMERS_SQL = `
SELECT u.id AS customer_id, u.username, u.email, c.orders, c.revenue::text AS revenue
FROM (
  SELECT o.customer_id, count(*) AS orders, sum(o.total) AS revenue
  FROM orders o
  WHERE o.tenant_id = $1 AND o.status = 'confirmed'
  GROUP BY o.customer_id
  HAVING count(*) >= $3 AND sum(o.total) > 0
) AS c
JOIN users u ON u.id = c.customer_id
WHERE u.tenant_id = $1 AND u.deleted_at IS NULL
ORDER BY c.revenue DESC, u.id
LIMIT $2`;

// Thirteen UTC months (December of the year before, so January's LAG is real), zero-filled.
const REVENUE_BY_MONTH_SQL = `
WITH months AS (
  SELECT m AS month_start
  FROM generate_series(make_timestamp($2::int - 1, 12, 1, 0, 0, 0), make_timestamp($2::int, 12, 1, 0, 0, 0), interval '1 month') AS m
),
monthly AS (
  SELECT date_trunc('month', o.created_at AT TIME ZONE 'UTC') AS month_start, count(*) AS orders, sum(o.total) AS revenue
  FROM orders o
  WHERE o.tenant_id = $1 AND o.status = 'confirmed'
    AND o.created_at >= make_timestamptz($2::int - 1, 12, 1, 0, 0, 0, 'UTC')
    AND o.created_at < make_timestamptz($2::int + 1, 1, 1, 0, 0, 0, 'UTC')
  GROUP BY 1
),
series AS (
  SELECT m.month_start, coalesce(x.orders, 0) AS orders, coalesce(x.revenue, 0) AS revenue,
         lag(coalesce(x.revenue, 0)) OVER (ORDER BY m.month_start) AS previous_revenue
  FROM months m
  LEFT JOIN monthly x ON x.month_start = m.month_start
)
SELECT to_char(month_start, 'YYYY-MM') AS month, orders, revenue::text AS revenue,
       previous_revenue::text AS previous_revenue, (revenue - previous_revenue)::text AS change
FROM series
WHERE month_start >= make_timestamp($2::int, 1, 1, 0, 0, 0)
ORDER BY month_start`;

// Every live product, sold or not (zero sales rank last, together); ranks are computed
// before the category filter, so `rank` stays the overall rank when a category is asked for.
const productRankingSql = (byCategory: boolean) => `
WITH sales AS (
  SELECT i.product_id, sum(i.quantity) AS units_sold, sum(i.line_total) AS revenue
  FROM order_items i
  JOIN orders o ON o.tenant_id = i.tenant_id AND o.id = i.order_id
  WHERE i.tenant_id = $1 AND o.tenant_id = $1 AND o.status = 'confirmed'
  GROUP BY i.product_id
),
ranked AS (
  SELECT p.id, p.name, p.category_id,
         coalesce(s.units_sold, 0) AS units_sold, coalesce(s.revenue, 0) AS revenue,
         rank() OVER (ORDER BY coalesce(s.revenue, 0) DESC) AS rank,
         rank() OVER (PARTITION BY p.category_id ORDER BY coalesce(s.revenue, 0) DESC) AS category_rank
  FROM products p
  LEFT JOIN sales s ON s.product_id = p.id
  WHERE p.tenant_id = $1 AND p.deleted_at IS NULL
)
SELECT id AS product_id, name, category_id, units_sold, revenue::text AS revenue, rank, category_rank
FROM ranked${byCategory ? '\nWHERE category_id = $3' : ''}
ORDER BY ranked.revenue DESC, ranked.units_sold DESC, ranked.id -- qualified: the numeric, not the text output column
LIMIT $2`;

export interface TopCustomersQuery {
  readonly limit: number;
  /** HAVING count(*) >= minOrders */
  readonly minOrders: number;
}

export interface ProductRankingQuery {
  readonly limit: number;
  readonly categoryId?: string | undefined;
}

export class AnalyticsRepository {
  async topCustomers(session: TenantSession, q: TopCustomersQuery): Promise<TopCustomer[]> {
    const rows = await this.select<{ customer_id: string; username: string; email: string; orders: Num; revenue: Num }>(
      session, TOP_CUSTOMERS_SQL, [session.tenantId, q.limit, q.minOrders],
    );
    return rows.map((r) => ({ customerId: r.customer_id, username: r.username, email: r.email, orders: Number(r.orders), revenue: Number(r.revenue) }));
  }

  /** Twelve rows, January to December of `year` (UTC). */
  async revenueByMonth(session: TenantSession, year: number): Promise<MonthRevenue[]> {
    const rows = await this.select<{ month: string; orders: Num; revenue: Num; previous_revenue: Num; change: Num }>(
      session, REVENUE_BY_MONTH_SQL, [session.tenantId, year],
    );
    return rows.map((r) => ({
      month: r.month,
      orders: Number(r.orders),
      revenue: Number(r.revenue),
      previousRevenue: Number(r.previous_revenue),
      change: Number(r.change),
    }));
  }

  async productRanking(session: TenantSession, q: ProductRankingQuery): Promise<ProductRank[]> {
    const byCategory = q.categoryId !== undefined;
    const bind: unknown[] = byCategory ? [session.tenantId, q.limit, q.categoryId] : [session.tenantId, q.limit];
    const rows = await this.select<{ product_id: string; name: string; category_id: string | null; units_sold: Num; revenue: Num; rank: Num; category_rank: Num }>(
      session, productRankingSql(byCategory), bind,
    );
    return rows.map((r) => ({
      productId: r.product_id,
      name: r.name,
      categoryId: r.category_id,
      unitsSold: Number(r.units_sold),
      revenue: Number(r.revenue),
      rank: Number(r.rank),
      categoryRank: Number(r.category_rank),
    }));
  }

  private select<T extends object>(session: TenantSession, sql: string, bind: unknown[]): Promise<T[]> {
    return session.read((node) => node.query<T>(sql, bind));
  }
}
