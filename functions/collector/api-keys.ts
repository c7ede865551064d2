import { createHash, timingSafeEqual } from "node:crypto";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Constant-time check of a presented key against every configured key. Comparing SHA-256 digests
 * makes the lengths equal (timingSafeEqual needs that) and hides the keys' lengths; every key is
 * compared, so the time does not tell which one nearly matched.
 */
export function apiKeyMatches(presented: string | undefined, keys: readonly string[]): boolean {
  if (!presented) return false;
  const given = digest(presented);
  let match = false;
  for (const key of keys) match = timingSafeEqual(given, digest(key)) || match;
  return match;
}

/** `OBSERVATORY_API_KEYS`: comma-separated keys (local use; on AWS the keys live in Secrets Manager). */
export function parseApiKeyList(value: string): string[] {
  return value
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** Reads the secret that MetricPipeline creates: a JSON array of key strings. */
export async function loadApiKeysFromSecret(
  client: SecretsManagerClient,
  secretArn: string,
): Promise<string[]> {
  const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  let keys: unknown;
  try {
    keys = JSON.parse(result.SecretString ?? "");
  } catch {
    throw new Error(`secret ${secretArn} must hold a JSON array of API keys`);
  }
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    !keys.every((k) => typeof k === "string" && k.length > 0)
  ) {
    throw new Error(`secret ${secretArn} must hold a non-empty JSON array of non-empty strings`);
  }
  return keys;
}
