/**
 * Lambda platform lines, in the text format:
 *   START RequestId: 6f3b... Version: $LATEST
 *   END RequestId: 6f3b...
 *   REPORT RequestId: 6f3b...\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 150.12 ms
 * and in the JSON format (LoggingConfig LogFormat=JSON):
 *   {"time":"...","type":"platform.report","record":{"requestId":"...","metrics":{"durationMs":12.34,...}}}
 */
export interface PlatformLine {
  kind: "START" | "END" | "REPORT" | "INIT_START" | "INIT_REPORT" | "OTHER";
  requestId: string | null;
  durationMs: number | null;
  billedDurationMs: number | null;
  memorySizeMb: number | null;
  maxMemoryUsedMb: number | null;
  initDurationMs: number | null;
  xrayTraceId: string | null;
  time: number | null;
}

const TEXT_PLATFORM = /^(START|END|REPORT|INIT_START|INIT_REPORT|EXTENSION|TELEMETRY|RUNTIME_DONE)\b/;

function metric(line: string, label: string): number | null {
  const match = new RegExp(`${label}: ([0-9.]+)`).exec(line);
  return match ? Number(match[1]) : null;
}

export function parseTextPlatformLine(line: string): PlatformLine | undefined {
  const kindMatch = TEXT_PLATFORM.exec(line);
  if (!kindMatch) return undefined;
  const requestId = /RequestId: ([0-9A-Za-z-]+)/.exec(line)?.[1] ?? null;
  // Every platform line but INIT_START names its request; a line that merely starts with "END" is app text.
  if (requestId === null && kindMatch[1] !== "INIT_START" && kindMatch[1] !== "INIT_REPORT") return undefined;
  const kind = (
    ["START", "END", "REPORT", "INIT_START", "INIT_REPORT"].includes(kindMatch[1]!) ? kindMatch[1] : "OTHER"
  ) as PlatformLine["kind"];
  return {
    kind,
    requestId,
    durationMs: metric(line, "(?<!Billed |Init )Duration"),
    billedDurationMs: metric(line, "Billed Duration"),
    memorySizeMb: metric(line, "Memory Size"),
    maxMemoryUsedMb: metric(line, "Max Memory Used"),
    initDurationMs: metric(line, "Init Duration"),
    xrayTraceId: /XRAY TraceId: ([0-9A-Za-z-]+)/.exec(line)?.[1] ?? null,
    time: null,
  };
}

const JSON_PLATFORM_KINDS: Record<string, PlatformLine["kind"]> = {
  "platform.start": "START",
  "platform.runtimeDone": "END",
  "platform.report": "REPORT",
  "platform.initStart": "INIT_START",
  "platform.initReport": "INIT_REPORT",
};

type Obj = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function parseJsonPlatformLine(value: Obj): PlatformLine | undefined {
  if (typeof value.type !== "string" || !value.type.startsWith("platform.")) return undefined;
  const record = (typeof value.record === "object" && value.record !== null ? value.record : {}) as Obj;
  const metrics = (
    typeof record.metrics === "object" && record.metrics !== null ? record.metrics : {}
  ) as Obj;
  const tracing = (
    typeof record.tracing === "object" && record.tracing !== null ? record.tracing : {}
  ) as Obj;
  const time = typeof value.time === "string" ? Date.parse(value.time) : Number.NaN;
  return {
    kind: JSON_PLATFORM_KINDS[value.type] ?? "OTHER",
    requestId: typeof record.requestId === "string" ? record.requestId : null,
    durationMs: num(metrics.durationMs),
    billedDurationMs: num(metrics.billedDurationMs),
    memorySizeMb: num(metrics.memorySizeMB),
    maxMemoryUsedMb: num(metrics.maxMemoryUsedMB),
    initDurationMs: num(metrics.initDurationMs),
    xrayTraceId:
      typeof tracing.value === "string" ? (/Root=([^;]+)/.exec(tracing.value)?.[1] ?? tracing.value) : null,
    time: Number.isFinite(time) ? time : null,
  };
}
