/** Where the local stack listens and keeps its data. One place, so the CLI, tests and docs agree. */
export const LOCAL_S3_PORT = 4569;
export const LOCAL_COLLECTOR_PORT = 4000;
export const LOCAL_DYNAMODB_PORT = 4567;
export const LOCAL_BUCKET = "observatory-local";
export const LOCAL_API_KEY = "local-dev-key";
export const LOCAL_DATA_DIR = ".observatory";
/** s3rver and dynalite accept any credentials; the SDK still wants some to sign with. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const LOCAL_REGION = "us-east-1";
/** The logging demo's three services (A storefront -> B search -> C images) under `observatory dev`. */
export const LOCAL_DEMO_SERVICE_PORTS = { storefront: 4010, search: 4011, images: 4012 } as const;
