import { connect } from 'node:net';

/** The 8-byte SSLRequest of the PostgreSQL protocol: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Whether a PostgreSQL server offers TLS: it answers an SSLRequest with `S` (yes) or `N`
 * (no). node-postgres cannot fall back to plain text after asking for TLS, so `prefer`
 * asks first, on a socket of its own, and connects the way the answer says.
 */
export function serverOffersTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const finish = (outcome: boolean | Error) => {
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no answer to the TLS probe within ${timeoutMs} ms`)));
    socket.once('error', (err) => finish(err));
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (chunk: Buffer) => {
      const answer = String.fromCharCode(chunk[0] ?? 0);
      finish(answer === 'S' ? true : answer === 'N' ? false : new Error('unexpected answer to the TLS probe'));
    });
  });
}
