import { expect } from 'chai';
import { parseSeriesBatch, seriesIngest } from '../../src/http/input/series-input.js';
import { ValidationError } from '../../src/errors/errors.js';

const ok = { series: 'cpu.load', ts: 1_767_225_600_000, value: 1.5, labels: { host: 'a' } };

/** Points the straight-line check must judge exactly as the schema does. */
const POINTS: unknown[] = [
  ok,
  { series: 'cpu.load', ts: 0, value: 0 },
  { series: 'cpu.load', ts: '2026-01-01T00:00:00Z', value: -1 },
  { series: 'cpu.load', ts: '2026-01-01T00:00:00.123456+02:00', value: 1e300 },
  { series: 'cpu.load', ts: '2026-01-01', value: 1 },
  { series: 'cpu.load', ts: '2026-13-01T00:00:00Z', value: 1 },
  { series: 'cpu.load', ts: '2026-01-01T00:00:00Zjunk', value: 1 },
  { series: 'cpu.load', ts: 'yesterday', value: 1 },
  { series: 'cpu.load', ts: '1969-12-31T23:59:59Z', value: 1 },
  { series: 'cpu.load', ts: -1, value: 1 },
  { series: 'cpu.load', ts: 1.5, value: 1 },
  { series: 'cpu.load', ts: Date.UTC(9999, 11, 31, 23, 59, 59, 999), value: 1 },
  { series: 'cpu.load', ts: Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, value: 1 },
  { series: 'cpu.load', ts: null, value: 1 },
  { series: 'cpu.load', ts: true, value: 1 },
  { series: 'cpu.load', value: 1 },
  { series: 'cpu.load', ts: 1 },
  { series: 'cpu.load', ts: 1, value: '1' },
  { series: 'cpu.load', ts: 1, value: Number.NaN },
  { series: 'cpu.load', ts: 1, value: Number.POSITIVE_INFINITY },
  { series: 'CPU', ts: 1, value: 1 },
  { series: '', ts: 1, value: 1 },
  { series: 'x'.repeat(100), ts: 1, value: 1 },
  { series: 'x'.repeat(101), ts: 1, value: 1 },
  { series: 7, ts: 1, value: 1 },
  { ts: 1, value: 1 },
  { series: 'cpu', ts: 1, value: 1, extra: true },
  { series: 'cpu', ts: 1, value: 1, labels: {} },
  { series: 'cpu', ts: 1, value: 1, labels: null },
  { series: 'cpu', ts: 1, value: 1, labels: [] },
  { series: 'cpu', ts: 1, value: 1, labels: 'host=a' },
  { series: 'cpu', ts: 1, value: 1, labels: { host: 1 } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: '' } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: 'x'.repeat(200) } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: 'x'.repeat(201) } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: 'a\u0000b' } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: '\ud800' } },
  { series: 'cpu', ts: 1, value: 1, labels: { host: 'ünïcödé ✓' } },
  { series: 'cpu', ts: 1, value: 1, labels: { '1host': 'a' } },
  { series: 'cpu', ts: 1, value: 1, labels: { ['h'.repeat(64)]: 'a' } },
  { series: 'cpu', ts: 1, value: 1, labels: { ['h'.repeat(65)]: 'a' } },
  { series: 'cpu', ts: 1, value: 1, labels: JSON.parse('{"__proto__": "x"}') as unknown },
  { series: 'cpu', ts: 1, value: 1, labels: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`l${i}`, 'v'])) },
  { series: 'cpu', ts: 1, value: 1, labels: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`l${i}`, 'v'])) },
  JSON.parse('{"series": "cpu", "ts": 1, "value": 1, "__proto__": {"labels": 1}}') as unknown,
  null,
  [ok],
  'cpu 1 1',
];

describe('series batch parsing: the straight-line check agrees with the schema', () => {
  for (const [i, point] of POINTS.entries()) {
    it(`point ${i}: ${JSON.stringify(point)?.slice(0, 80)}`, () => {
      const body = { points: [ok, point] };
      const schema = seriesIngest.safeParse(body);
      let parsed: ReturnType<typeof parseSeriesBatch> | undefined;
      let error: unknown;
      try {
        parsed = parseSeriesBatch(body);
      } catch (e) {
        error = e;
      }
      if (schema.success) {
        expect(error, 'refused what the schema accepts').to.equal(undefined);
        const want = schema.data.points.map((p) => ({ series: p.series, ts: p.ts.getTime(), value: p.value, labels: p.labels ?? {} }));
        expect(parsed!.map((p) => ({ ...p, ts: p.ts.getTime(), labels: { ...p.labels } }))).to.deep.equal(want);
      } else {
        expect(error).to.be.instanceOf(ValidationError);
        expect((error as ValidationError).field).to.match(/^points\[1\]/);
      }
    });
  }

  it('the body: points must be a non-empty list of at most 10,000, and nothing else', () => {
    const refused = (body: unknown) => expect(() => parseSeriesBatch(body)).to.throw(ValidationError);
    refused(undefined);
    refused([]);
    refused({});
    refused({ points: [] });
    refused({ points: ok });
    refused({ points: [ok], extra: 1 });
    refused({ points: Array.from({ length: 10_001 }, () => ok) });
    expect(parseSeriesBatch({ points: Array.from({ length: 10_000 }, () => ok) })).to.have.length(10_000);
  });

  it('a label named __proto__ is refused by name, not dropped', () => {
    expect(() => parseSeriesBatch({ points: [{ ...ok, labels: JSON.parse('{"__proto__": "x"}') as unknown }] }))
      .to.throw(ValidationError, /points\[0\]\.labels/);
  });
});
