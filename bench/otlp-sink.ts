import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink received, by OTLP path (/v1/traces, /v1/metrics, …). */
export interface SinkStats {
  readonly requests: Record<string, number>;
  readonly bytes: number;
}

/**
 * A stand-in OpenTelemetry Collector: accepts OTLP/HTTP exports and throws them away, so
 * "tracing on" costs the gateway what it costs in production (spans recorded, batched,
 * serialised, sent) without a collector on this machine. Answers 200 with an empty body,
 * which is a valid empty Export*ServiceResponse in protobuf.
 */
export class OtlpSink {
  readonly #requests: Record<string, number> = {};
  #bytes = 0;

  private readonly server = http.createServer((req, res) => {
    const path = req.url ?? '';
    req.on('data', (chunk: Buffer) => {
      this.#bytes += chunk.length;
    });
    req.on('end', () => {
      this.#requests[path] = (this.#requests[path] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });

  static async start(): Promise<OtlpSink> {
    const sink = new OtlpSink();
    await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  /** OTEL_EXPORTER_OTLP_ENDPOINT for the gateways: the exporters append /v1/traces etc. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get stats(): SinkStats {
    return { requests: { ...this.#requests }, bytes: this.#bytes };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
