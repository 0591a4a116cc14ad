import { expect } from 'chai';
import { ADMIN_TOKEN, TestGateway, type TestTenant } from '../support/test-cluster.js';

const LIMIT = 64 * 1024;

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

describe('admin import: a body past transfer.maxImportBytes is a 413 and imports nothing', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  let exported: string;

  const exportOf = async (tenantId: string) =>
    (await fetch(`${gw.gateway.adminUrl}/admin/tenants/${tenantId}/export`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();

  /** POST an import; `chunked` streams the body in pieces with no Content-Length (as a pipe would) */
  async function importBody(tenantId: string, body: string, options: { chunked: boolean; query?: string }): Promise<Answer> {
    const bytes = Buffer.from(body);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 8192) controller.enqueue(bytes.subarray(at, at + 8192));
        controller.close();
      },
    });
    const res = await fetch(`${gw.gateway.adminUrl}/admin/tenants/${tenantId}/import${options.query ?? ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-ndjson' },
      ...(options.chunked ? { body: stream, duplex: 'half' } : { body }),
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  function expectTooLarge(res: Answer): void {
    expect(res.status, JSON.stringify(res.body)).to.equal(413);
    expect(res.body).to.include({ code: 'PAYLOAD_TOO_LARGE', status: 413, field: 'body' });
    expect(res.body.detail).to.contain(String(LIMIT)).and.to.contain('transfer.maxImportBytes');
  }

  before(async () => {
    gw = await TestGateway.start({ transfer: { maxImportBytes: LIMIT } });
    tenant = await gw.createTenant('import-limit');
    const items = Array.from({ length: 200 }, (_, i) => ({ name: `product ${i} ${'x'.repeat(180)}`, price: '1.00', stock: i }));
    const batch = await tenant.request('POST', '/v1/products/batch', { body: { items } });
    expect(batch.status, batch.text.slice(0, 300)).to.equal(200);
    exported = await exportOf(tenant.id);
    expect(Buffer.byteLength(exported)).to.be.greaterThan(LIMIT);
  });
  after(async () => gw?.stop());

  it('refuses a streamed body (no Content-Length) once its bytes pass the limit; a replace leaves the rows as they were', async () => {
    expectTooLarge(await importBody(tenant.id, exported, { chunked: true, query: '?replace=true' }));
    expect(await exportOf(tenant.id)).to.equal(exported);
  });

  it('refuses a declared Content-Length over the limit before reading, and the connection still answers', async () => {
    expectTooLarge(await importBody(tenant.id, exported, { chunked: false, query: '?replace=true' }));
    expect(await exportOf(tenant.id)).to.equal(exported);
  });

  it('imports a body under the limit', async () => {
    const other = await gw.createTenant('import-limit');
    const lines = exported.trimEnd().split('\n').filter((l) => (JSON.parse(l) as { table: string }).table === 'products').slice(0, 50);
    const body = `${lines.map((l) => l.replaceAll(JSON.stringify(tenant.id), JSON.stringify(other.id))).join('\n')}\n`;
    expect(Buffer.byteLength(body)).to.be.below(LIMIT);
    const res = await importBody(other.id, body, { chunked: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.total).to.equal(50);
    // and nothing of the refused imports reached this tenant either
    expect((await exportOf(other.id)).trimEnd().split('\n')).to.have.length(50);
  });
});
