/**
 * Every error the gateway answers with, defined once: a stable `code` clients and
 * tests can rely on, the HTTP status it maps to, and a title. The HTTP layer maps
 * these to problem+json in one place (`http/problem.ts`).
 */
export const ErrorCodes = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  /** the HTTP message itself could not be parsed (answered before routing) */
  MALFORMED_REQUEST: { status: 400, title: 'Malformed HTTP request' },
  UNAUTHENTICATED: { status: 401, title: 'Missing or invalid credentials' },
  TENANT_SUSPENDED: { status: 403, title: 'Tenant is suspended' },
  /** a transfer between tenants no partnership allows */
  NOT_PARTNERS: { status: 403, title: 'Tenants are not partners' },
  NOT_FOUND: { status: 404, title: 'Resource not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  /** the client did not send its whole request within the listener's request timeout (answered before routing) */
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  CONFLICT: { status: 409, title: 'Conflict with the current state' },
  /** a transfer asked for more than the supplier's stock: nothing changed on either side */
  INSUFFICIENT_STOCK: { status: 409, title: 'Insufficient stock' },
  VERSION_MISMATCH: { status: 412, title: 'Version precondition failed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  /** a restore's moment lies outside what the backups and WAL archive can recover */
  NOT_RESTORABLE: { status: 422, title: 'Moment not restorable' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  INTERNAL: { status: 500, title: 'Internal error' },
  /** a stored encrypted value failed to open (moved from another row or tenant, or tampered): the one deliberate 500 */
  DATA_INTEGRITY: { status: 500, title: 'Stored data failed an integrity check' },
  SHARD_UNAVAILABLE: { status: 503, title: 'Shard unavailable' },
  /** the shard's fleet-wide budget of concurrent requests is spent: the shard is up, but full */
  SHARD_BUSY: { status: 503, title: 'Shard busy' },
  TENANT_FENCED: { status: 503, title: 'Tenant is being moved' },
  /** the gateway could not confirm its placement with the catalog within placement.writeLeaseMs: writes wait until it can */
  PLACEMENT_STALE: { status: 503, title: 'Placement not confirmed' },
  /** rows the request needs stay locked by another transaction (a transfer's prepared side) past a short lock timeout */
  ROWS_LOCKED: { status: 503, title: 'Rows locked by another transaction' },
  CATALOG_UNAVAILABLE: { status: 503, title: 'Catalog unavailable' },
  /** every password-hashing slot and its queue are taken */
  HASHING_BUSY: { status: 503, title: 'Password hashing busy' },
  QUERY_TIMEOUT: { status: 504, title: 'Database query timed out' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface GatewayErrorOptions {
  readonly cause?: unknown;
  /** the request field at fault, for 400s */
  readonly field?: string;
  /** seconds a client should wait before retrying (429, 503) */
  readonly retryAfterSeconds?: number;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, detail: string, options: GatewayErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get title(): string {
    return ErrorCodes[this.code].title;
  }
}

export class ValidationError extends GatewayError {
  constructor(field: string, detail: string) {
    super('VALIDATION_FAILED', detail, { field });
  }
}

export class NotFoundError extends GatewayError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${JSON.stringify(id)} not found`);
  }
}

export class ConflictError extends GatewayError {
  constructor(detail: string, field?: string) {
    super('CONFLICT', detail, field === undefined ? {} : { field });
  }
}

export class InsufficientStockError extends GatewayError {
  constructor(detail: string, field: string) {
    super('INSUFFICIENT_STOCK', detail, { field });
  }
}

export class NotPartnersError extends GatewayError {
  constructor(supplier: string, buyer: string) {
    super('NOT_PARTNERS', `Tenant ${buyer} may not buy from ${supplier}: no partnership (POST /admin/partnerships)`, { field: 'supplier' });
  }
}

export class VersionMismatchError extends GatewayError {
  constructor(expected: number, actual: number) {
    super('VERSION_MISMATCH', `If-Match version ${expected} does not match current version ${actual}`);
  }
}

export class UnauthenticatedError extends GatewayError {
  constructor(detail = 'A valid bearer token is required') {
    super('UNAUTHENTICATED', detail);
  }
}

export class TenantSuspendedError extends GatewayError {
  constructor(tenantId: string) {
    super('TENANT_SUSPENDED', `Tenant ${tenantId} is suspended`);
  }
}

export class ShardUnavailableError extends GatewayError {
  constructor(shardId: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super('SHARD_UNAVAILABLE', `Shard ${shardId} is unavailable`, {
      cause: options.cause,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
    });
  }
}

/** Every slot of the shard's fleet-wide concurrency budget is taken (by any tenant, on any pod). */
export class ShardBusyError extends GatewayError {
  constructor(shardId: string, retryAfterSeconds = 1) {
    super('SHARD_BUSY', `Shard ${shardId} has reached its limit of concurrent requests; retry shortly`, { retryAfterSeconds });
  }
}

/** The shard refused a write: the tenant is fenced for a move (SQLSTATE SG001, raised by the fence trigger). */
export class TenantFencedError extends GatewayError {
  constructor(shardId: string, options: { cause?: unknown } = {}) {
    super('TENANT_FENCED', `The tenant is moving off shard ${shardId}; retry shortly`, { cause: options.cause, retryAfterSeconds: 1 });
  }
}

/** The gateway's placement is older than its write lease (the catalog unreachable): a write could reach a shard its tenant left. */
export class PlacementStaleError extends GatewayError {
  constructor(staleForMs: number) {
    super('PLACEMENT_STALE', `This gateway has not confirmed where tenants live for ${Math.round(staleForMs / 1000)} s (the catalog is unreachable); writes resume once it has`, {
      retryAfterSeconds: 2,
    });
  }
}

/** 422 on `at`: the moment is not in the shard's restorable window (no base backup ended before it, or it is in the future). */
export class NotRestorableError extends GatewayError {
  constructor(message: string) {
    super('NOT_RESTORABLE', message, { field: 'at' });
  }
}

/** SQLSTATE 55P03: a statement run under a short lock_timeout gave way to the transaction holding its rows. */
export class RowsLockedError extends GatewayError {
  constructor(shardId: string, options: { cause?: unknown } = {}) {
    super('ROWS_LOCKED', `Rows this request needs on shard ${shardId} are locked by another transaction; retry shortly`, { cause: options.cause, retryAfterSeconds: 1 });
  }
}

export class QueryTimeoutError extends GatewayError {
  constructor(shardId: string, options: { cause?: unknown } = {}) {
    super('QUERY_TIMEOUT', `A query on shard ${shardId} exceeded its statement timeout`, {
      cause: options.cause,
      retryAfterSeconds: 1,
    });
  }
}

export class CatalogUnavailableError extends GatewayError {
  constructor(options: { cause?: unknown } = {}) {
    super('CATALOG_UNAVAILABLE', 'The catalog database is unavailable', {
      cause: options.cause,
      retryAfterSeconds: 2,
    });
  }
}

/** A password could not be hashed now: the KDF's slots and queue are full (it would starve libuv's threads). */
export class HashingBusyError extends GatewayError {
  constructor() {
    super('HASHING_BUSY', 'Too many passwords are being hashed at once; retry shortly', { retryAfterSeconds: 1 });
  }
}

/** A body larger than a configured limit, counted as it arrives. */
export class PayloadTooLargeError extends GatewayError {
  constructor(
    readonly limitBytes: number,
    limitName: string,
  ) {
    super('PAYLOAD_TOO_LARGE', `The request body exceeds ${limitBytes} bytes (${limitName})`, { field: 'body' });
  }
}

/** Where an encrypted value is stored: what its AES-GCM associated data binds it to. */
export interface FieldPlace {
  readonly tenantId: string;
  readonly table: string;
  /** the database column, not the model attribute: renaming an attribute must not unbind stored values */
  readonly column: string;
  readonly rowId: string;
}

/**
 * A stored encrypted value did not open at its place: copied from another row, column or
 * tenant, or tampered with. The data is corrupt, not the request: a 500 whose answer says
 * nothing of the place or the value (operators get both from the alarm in the log).
 */
export class FieldIntegrityError extends GatewayError {
  readonly place: FieldPlace;

  constructor(place: FieldPlace, options: { cause?: unknown } = {}) {
    super('DATA_INTEGRITY', 'A stored value failed its integrity check; the operators have been alerted', { cause: options.cause });
    this.place = Object.freeze({ ...place });
  }
}

/**
 * Driver messages that mean "the server could not be reached or stopped answering" (refused,
 * reset, client-side query timeout): an outage, never the request's fault. One pattern for
 * the shard and catalog error mappings.
 */
export const CONNECTION_FAILURE = /ECONNREFUSED|ETIMEDOUT|ECONNRESET|EPIPE|Connection terminated|Query read timeout|timeout expired/i;
