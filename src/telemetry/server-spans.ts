import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Request, Response } from 'express';

/** Probes and scrapes: they would otherwise be most of the traces. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/** What an untraced request runs in: contexts are immutable, so one serves all of them (9 requests in 10 in production). */
const SUPPRESSED = suppressTracing(ROOT_CONTEXT);

/** A request's trace: the server span when it is recorded, and the context its work runs in. */
export interface RequestTrace {
  readonly span: Span | undefined;
  readonly context: Context;
}

/**
 * The HTTP server span of each request, made by the gateway (it replaced the generic http
 * instrumentation, which wrapped every request and response and built a dozen attributes
 * before the sampler had decided). The caller's `traceparent` is honoured; the sampler sees
 * the method alone. A request that is not recorded runs with tracing suppressed: no
 * instrumentation below it makes a span (pg and ioredis skip without a parent span, and the
 * SDK answers any other span with a no-op at once), and none starts a trace of its own.
 * Attributes follow the stable HTTP semantic conventions, as the instrumentation's did, but
 * for `url.query`, which is left out: a search's text is the tenant's data.
 */
export class ServerSpans {
  readonly #tracer: Tracer;

  constructor(tracer: Tracer = trace.getTracer('shardgate')) {
    this.#tracer = tracer;
  }

  start(req: Request): RequestTrace {
    if (UNTRACED.has(req.path)) return { span: undefined, context: SUPPRESSED };
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = this.#tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
    if (!span.isRecording()) return { span: undefined, context: SUPPRESSED };
    const socket = req.socket;
    const [host, port] = splitHost(req.headers.host);
    span.setAttributes({
      'url.scheme': req.protocol,
      'url.path': req.path,
      'server.address': host,
      'server.port': port,
      'network.peer.address': socket.remoteAddress,
      'network.peer.port': socket.remotePort,
      'network.protocol.version': req.httpVersion,
      'user_agent.original': req.headers['user-agent'],
      'client.address': req.ip,
    });
    return { span, context: trace.setSpan(parent, span) };
  }

  /** Ends the span when the response is done (sent, or the client went away), named by its route. */
  end(span: Span, res: Response, route: string | undefined): void {
    const status = res.statusCode;
    span.setAttribute('http.response.status_code', status);
    if (route !== undefined) {
      span.setAttribute('http.route', route);
      span.updateName(`${res.req.method} ${route}`);
    }
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    else if (!res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the response was sent' });
    span.end();
  }
}

function splitHost(header: string | undefined): [string | undefined, number | undefined] {
  if (header === undefined) return [undefined, undefined];
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(header);
  if (match === null) return [header, undefined];
  return [match[1], match[2] === undefined ? undefined : Number(match[2])];
}
