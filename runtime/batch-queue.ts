/**
 * The Tracker's bounded queue: serialized events gather in ONE open batch, whatever their correlation
 * IDs (each event carries its own as `context.correlation_id`, which the collector keeps when the
 * request has no x-correlation-id header: docs/collector.md); a batch is sealed when it reaches the
 * count or byte limit or on flush, and sealed batches wait in FIFO order for a free request slot.
 * A batch whose events all share one ID still sends it as the header.
 *
 * Drop policy: when the queue is full the NEW event is refused (drop newest). Reasons: events already
 * queued may be part of a batch about to be sent, so evicting them is not O(1) and not clean; an outage
 * then shows up as one contiguous gap at its end rather than a thinned-out history; and it is what
 * OpenTelemetry's BatchSpanProcessor does, so operators know it. Every refusal is counted.
 */
import { BATCH_ENVELOPE_BYTES } from "./tracker-options.js";

export interface QueueLimits {
  flushAt: number;
  maxBatchBytes: number;
  maxQueueSize: number;
  maxQueueBytes: number;
}

/** A batch no longer accepting events. `done` settles once it is delivered, refused or given up. */
export interface SealedBatch {
  /** Correlation ID shared by every event of the batch, or "" when none or mixed (then no header). */
  readonly correlationId: string;
  /** Serialized events, in track() order. */
  readonly events: readonly string[];
  /** Bytes of the events plus the commas between them (the envelope is added when sent). */
  readonly bytes: number;
  readonly done: Promise<void>;
  readonly finish: () => void;
}

interface OpenBatch {
  correlationId: string;
  events: string[];
  bytes: number;
  /** True when events of different correlation IDs (or with and without one) share this batch. */
  mixed: boolean;
}

/** Taken batches at the head of `ready` are cut off once there are this many (amortized O(1)). */
const READY_COMPACT_AT = 1024;

export class BatchQueue {
  private open: OpenBatch | undefined;
  private readonly ready: SealedBatch[] = [];
  private readyHead = 0;
  /** Events in open and sealed-but-unsent batches. */
  queuedEvents = 0;
  /** Bytes of those events. */
  queuedBytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  /** Adds one serialized event; false (and nothing changes) when the queue is full. O(1). */
  add(json: string, bytes: number, correlationId: string): boolean {
    const { limits } = this;
    if (this.queuedEvents >= limits.maxQueueSize || this.queuedBytes + bytes > limits.maxQueueBytes)
      return false;
    let batch = this.open;
    // +1 for the comma before it; an event that would push the batch past the limit starts the next one.
    if (batch !== undefined && BATCH_ENVELOPE_BYTES + batch.bytes + 1 + bytes > limits.maxBatchBytes) {
      this.seal(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { correlationId, events: [json], bytes, mixed: false };
      this.open = batch;
    } else {
      batch.events.push(json);
      batch.bytes += bytes + 1;
      if (batch.correlationId !== correlationId) batch.mixed = true;
    }
    this.queuedEvents++;
    this.queuedBytes += bytes;
    if (batch.events.length >= limits.flushAt) this.seal(batch);
    return true;
  }

  /** Seals the open batch, so that everything queued so far is ready to send. */
  sealAll(): void {
    if (this.open !== undefined) this.seal(this.open);
  }

  /** The oldest sealed batch, removed from the queue (its events stop counting as queued). */
  takeReady(): SealedBatch | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const batch = this.ready[this.readyHead]!;
    this.ready[this.readyHead++] = undefined as unknown as SealedBatch;
    if (this.readyHead === this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
    } else if (this.readyHead >= READY_COMPACT_AT) {
      // A producer that never lets the queue drain would otherwise grow the array's dead head forever.
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    this.queuedEvents -= batch.events.length;
    this.queuedBytes -= batch.bytes - (batch.events.length - 1);
    return batch;
  }

  /** Sealed batches waiting for a request slot. */
  pending(): readonly SealedBatch[] {
    return this.ready.slice(this.readyHead);
  }

  get readyCount(): number {
    return this.ready.length - this.readyHead;
  }

  private seal(batch: OpenBatch): void {
    this.open = undefined;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.ready.push({
      correlationId: batch.mixed ? "" : batch.correlationId,
      events: batch.events,
      bytes: batch.bytes,
      done,
      finish,
    });
  }
}
