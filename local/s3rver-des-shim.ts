import crypto from "node:crypto";

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES (`'des'`), which OpenSSL 3 only
 * has in its legacy provider - off by default on Node 18+. Without this, any listing longer than one
 * page (1,000 keys) answers `InternalError`, so compaction over a busy hour would fail locally.
 * Single DES is exactly 3DES with three equal keys, which the default provider has: map that one
 * algorithm onto `des-ede3-cbc` (same bytes out) and leave every other call untouched.
 */
export function installS3rverDesShim(): void {
  if (desIsAvailable() || (crypto as { __observatoryDesShim?: boolean }).__observatoryDesShim) return;
  Object.assign(crypto, {
    __observatoryDesShim: true,
    createCipheriv: desAsTripleDes(crypto.createCipheriv),
    createDecipheriv: desAsTripleDes(crypto.createDecipheriv),
  });
}

type CipherFactory = (
  algorithm: string,
  key: crypto.CipherKey,
  iv: crypto.BinaryLike | null,
  options?: never,
) => unknown;

/** Wraps createCipheriv / createDecipheriv so that `'des'` runs as 3DES with the key three times. */
function desAsTripleDes<F>(original: F): F {
  const create = original as unknown as CipherFactory;
  return ((algorithm, key, iv, options) => {
    if (algorithm !== "des") return create(algorithm, key, iv, options);
    const single = Buffer.from(key as Uint8Array);
    return create("des-ede3-cbc", Buffer.concat([single, single, single]), iv, options);
  }) as CipherFactory as unknown as F;
}

function desIsAvailable(): boolean {
  try {
    crypto.createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}
