import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the request being served; the only ambient state in the gateway. */
export interface RequestContext {
  readonly requestId: string;
  tenantId?: string;
  shardId?: string;
  /** the node the request's queries run on, once routed (tags pg spans) */
  dbRole?: 'primary' | 'replica';
  dbNode?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return requestContext.getStore();
}
