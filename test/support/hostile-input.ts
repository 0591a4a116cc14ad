import fc from 'fast-check';

/** Strings a careless gateway would pass on to SQL, a document store, a shell or a template. */
export const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  "Robert'); DROP TABLE products;--",
  '" OR ""="',
  "1' UNION SELECT id, tenant_id, username FROM users --",
  "'||pg_sleep(5)||'",
  '$1',
  "E'\\x00'",
  '\\',
  "\\'",
  '%',
  '_',
  '%_%',
  '*',
  '{"$gt": ""}',
  '{"$where": "sleep(1000)"}',
  '$ne',
  'tenant_id',
  '__proto__',
  'constructor.prototype',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '; rm -rf / #',
  'null',
  'undefined',
  'NaN',
  '-0',
  'sg:v1:t:*',
  '!tomb:',
] as const;

/** Unicode a storage layer tends to choke on (the JSON encoder writes lone surrogates as `\ud800` escapes). */
export const UNICODE_EDGES = [
  '\ud800',
  'a\udc00b',
  '\udbff\udfff',
  '\u0000',
  'a\u0000b',
  '\u202Eevil\u202C',
  'مرحبا بالعالم',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  'e\u0301\u0301\u0301\u0301',
  'Z̵̡̢̛̗̘̙̜̝̞̟̠̖̗̘̙̜̝',
  '\uFEFF',
  '\u200B\u200C\u200D',
  '\uFFFF\uFFFE',
  '𝕏𝔸',
  'İıß',
  '\r\n\t\u000b\u000c',
  '\u2028\u2029',
] as const;

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.constantFrom(...UNICODE_EDGES),
  fc.tuple(fc.constantFrom(...INJECTIONS), fc.constantFrom(...UNICODE_EDGES)).map(([a, b]) => a + b),
  fc.string({ unit: 'binary', maxLength: 24 }), // any UTF-16 code unit, lone surrogates included
  fc.string({ unit: 'grapheme', maxLength: 24 }),
);

/** Nested arrays and objects deeper than any limit (16). */
export const deepNest: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 17, max: 200 }), fc.boolean()).map(([depth, arrays]) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { d: v };
  return v;
});

const scalar = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 53 + 1, 1e308, -1e308, -0, 0.1, 1.005, 99999999999.99, -1),
  fc.boolean(),
  fc.constant(null),
);

const smallValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, scalar, { maxKeys: 4 }) },
);

/** Any JSON value a client might send where something else was expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: smallValue },
  { weight: 1, arbitrary: deepNest },
  // past every string limit, still under the 100 kB body limit
  { weight: 1, arbitrary: fc.integer({ min: 10_001, max: 60_000 }).map((n) => 'x'.repeat(n)) },
  // past the batch limit (1000)
  { weight: 1, arbitrary: fc.integer({ min: 1001, max: 1500 }).map((n) => Array.from({ length: n }, (_, i) => i)) },
);

/** Replaces, adds or removes one key of a valid body (maybe inside its first list item). */
export function mutatedBody(template: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template);
  const key = fc.oneof(fc.constantFrom(...keys), fc.constantFrom('unknownField', '__proto__', 'constructor', 'tenantId', 'tenant_id', 'id', 'version', 'deletedAt'), hostileString);
  const replaced = fc.tuple(key, hostileValue).map(([k, v]) => {
    const body: Record<string, unknown> = { ...template };
    // a computed __proto__ key is an own property, and JSON.stringify sends it
    Object.defineProperty(body, k, { value: v, enumerable: true, writable: true, configurable: true });
    return body;
  });
  const removed = fc.constantFrom(...keys).map((k) => {
    const body = { ...template };
    delete body[k];
    return body;
  });
  const listKey = keys.find((k) => Array.isArray(template[k]) && typeof (template[k] as unknown[])[0] === 'object');
  const inner =
    listKey === undefined
      ? replaced
      : fc.tuple(fc.constantFrom(...Object.keys((template[listKey] as Array<Record<string, unknown>>)[0]!), 'extra'), hostileValue).map(([k, v]) => {
          const first = { ...(template[listKey] as Array<Record<string, unknown>>)[0]!, [k]: v };
          return { ...template, [listKey]: [first, ...(template[listKey] as unknown[]).slice(1)] };
        });
  return fc.oneof({ weight: 1, arbitrary: fc.constant(template) }, { weight: 5, arbitrary: replaced }, { weight: 1, arbitrary: removed }, { weight: 3, arbitrary: inner }, { weight: 1, arbitrary: hostileValue });
}

/** Bodies that are not valid JSON, or valid JSON no encoder would write, sent as raw text. */
export function rawBody(template: Record<string, unknown>): fc.Arbitrary<string> {
  const json = JSON.stringify(template);
  return fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.integer({ min: 1, max: json.length - 1 }).map((n) => json.slice(0, n)), // truncated
    fc.constantFrom(
      '',
      '{',
      '{"a":}',
      '[1,2',
      '{"name": "x",}',
      "{'name': 'x'}",
      '{"name": NaN}',
      '{"price": 1e999}',
      '{"price": -1e999}',
      '{"name": "\\ud800", "price": 1, "stock": 1}',
      '{"name": "\\udfff\\ud800", "price": 1, "stock": 1}',
      '{"name": "a\\u0000b", "price": 1, "stock": 1}',
      '{"username": "\\u0000", "email": "a@b.co", "password": "xxxxxxxxxx"}',
      '\uFEFF' + json,
      json + json,
      json.replace('{', '{"name": 1, "name": 2, '),
      '{"__proto__": {"isAdmin": true}}',
      '{"constructor": {"prototype": {"polluted": true}}}',
      'null',
      'true',
      '"just a string"',
      '12345',
      '[]',
      '[' + json + ']',
      '\u0000',
      '%7B%7D',
      'a=1&b=2',
    ),
    fc.integer({ min: 5_000, max: 60_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)), // valid, absurdly deep
    fc.integer({ min: 5_000, max: 30_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    fc.constant(`{"name": "${'y'.repeat(150_000)}"}`), // past the body limit
  );
}

/** Header values a hostile client sends; undici refuses CR, LF, NUL and chars above U+00FF, so none are made. */
export const headerText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
  fc.constantFrom(...INJECTIONS.filter((s) => /^[\x20-\x7e]*$/.test(s))),
  fc.constantFrom('', ' ', 'ü', '\u00ff\u00fe', 'x'.repeat(4000)),
);
