/**
 * Why a connection failed at the TLS layer, in words of our own: the caller logs this and
 * answers "unreachable", never the server's certificate or the driver's text.
 */
const TLS_CODES: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate not trusted (unknown root)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate not trusted (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate not trusted (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate not trusted (unknown issuer)',
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature invalid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name the server',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS',
  EPROTO: 'TLS handshake failed',
};

const TLS_MESSAGES: ReadonlyArray<[RegExp, string]> = [
  [/does not support SSL connections/i, 'the server does not offer TLS'],
  [/error establishing an SSL connection/i, 'TLS negotiation refused'],
  [/SSL routines|TLS|certificate/i, 'TLS handshake failed'],
];

/** The TLS reason of a connection error (or its cause), undefined when it failed otherwise. */
export function tlsFailureReason(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause ?? (e as { original?: unknown }).original, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in TLS_CODES) return TLS_CODES[code];
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') for (const [pattern, reason] of TLS_MESSAGES) if (pattern.test(message)) return reason;
  }
  return undefined;
}
