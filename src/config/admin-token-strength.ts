/** Shortest admin token accepted: 32 characters of base64url carry 192 bits. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;
/** Fewer distinct characters than this and a token is a word or a pattern, whatever its length. */
const MIN_DISTINCT_CHARACTERS = 10;

/** True when the text is a shorter unit repeated (`abcabcabc…`, `xxxx…`), a trailing partial unit allowed. */
function isRepetition(text: string): boolean {
  for (let unit = 1; unit <= text.length / 2; unit++) {
    let repeats = true;
    for (let i = unit; i < text.length && repeats; i++) repeats = text[i] === text[i - unit];
    if (repeats) return true;
  }
  return false;
}

/**
 * Above this share of equal-or-adjacent neighbours a token is a typed run, not random. Random
 * hex has about one neighbour in six adjacent: at one half, one `openssl rand -hex 16` in
 * 80,000 was refused; at three quarters, fewer than one in a trillion is.
 */
const MAX_SEQUENCE_SHARE = 0.75;

/** Share of neighbouring characters that are equal or one apart (`aaaa`, `abcd`, `4321`, `qrst`). */
function sequenceShare(text: string): number {
  let steps = 0;
  for (let i = 1; i < text.length; i++) if (Math.abs(text.charCodeAt(i) - text.charCodeAt(i - 1)) <= 1) steps++;
  return steps / Math.max(1, text.length - 1);
}

/**
 * Why an admin token is too weak to guard the admin API, or undefined when it is strong
 * enough. The token is a bearer secret compared as it is, so its strength is its length
 * and its unpredictability: short tokens, one character or a short unit repeated, few
 * distinct characters, or a run of neighbouring characters (`abcdef…`, `123456…`) are
 * refused. A random token (`openssl rand -base64 32`) passes every check; the gateway
 * generates such a token itself when none is configured.
 */
export function adminTokenWeakness(token: string): string | undefined {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    return `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (it has ${token.length}); generate one with \`openssl rand -base64 32\``;
  }
  if (isRepetition(token)) return 'repeats a short pattern; use a random token (`openssl rand -base64 32`)';
  if (new Set(token).size < MIN_DISTINCT_CHARACTERS) {
    return `has fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters; use a random token (\`openssl rand -base64 32\`)`;
  }
  if (sequenceShare(token) > MAX_SEQUENCE_SHARE) return 'is mostly runs of neighbouring characters; use a random token (`openssl rand -base64 32`)';
  return undefined;
}
