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
  const originalCipher = crypto.createCipheriv;
  const originalDecipher = crypto.createDecipheriv;
  const asTripleDes = (key: crypto.CipherKey): Buffer => {
    const single = Buffer.from(key as Uint8Array);
    return Buffer.concat([single, single, single]);
  };
  Object.assign(crypto, {
    __observatoryDesShim: true,
    createCipheriv: ((
      algorithm: string,
      key: crypto.CipherKey,
      iv: crypto.BinaryLike | null,
      options?: never,
    ) =>
      algorithm === "des"
        ? originalCipher("des-ede3-cbc", asTripleDes(key), iv, options)
        : originalCipher(algorithm, key, iv, options)) as typeof crypto.createCipheriv,
    createDecipheriv: ((
      algorithm: string,
      key: crypto.CipherKey,
      iv: crypto.BinaryLike | null,
      options?: never,
    ) =>
      algorithm === "des"
        ? originalDecipher("des-ede3-cbc", asTripleDes(key), iv, options)
        : originalDecipher(algorithm, key, iv, options)) as typeof crypto.createDecipheriv,
  });
}

function desIsAvailable(): boolean {
  try {
    crypto.createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}
