import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';

/** A TLS setting that cannot be used: named, so the operator knows which key to fix. */
export class TransportConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  override readonly name = 'TransportConfigError';
}

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM file, read once at startup and checked: a bad path or a file
 * that is not a certificate fails the start, not the first connection hours later. A
 * directory stands for every `*.crt` / `*.pem` in it (one CA per database cluster, as
 * Kubernetes mounts them), all trusted.
 */
export function readPemCertificates(file: string, setting: string): string {
  let text: string;
  try {
    text = statSync(file).isDirectory()
      ? readdirSync(file)
          .filter((name) => /\.(crt|pem)$/.test(name))
          .sort()
          .map((name) => readFileSync(path.join(file, name), 'utf8'))
          .join('\n')
      : readFileSync(file, 'utf8');
  } catch (err) {
    throw new TransportConfigError(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return parsePemCertificates(text, `${setting} (${file})`);
}

/** The certificate blocks of a PEM text, each parsed as X.509; anything else in the text is dropped. */
export function parsePemCertificates(text: string, setting: string): string {
  const blocks = text.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new TransportConfigError(`${setting}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new TransportConfigError(`${setting}: certificate ${i + 1} is not valid X.509`);
    }
  }
  return `${blocks.join('\n')}\n`;
}
