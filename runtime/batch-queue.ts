/**
 * The Tracker's bounded queue: serialized events gather in ONE open batch, whatever their correlation
 * IDs (each event carries its own as `context.correlation_id`, which the collector keeps when the
 * request has no x-correlation-id header: docs/collector.md); a batch is sealed when it reaches the
 * count or byte limit or on flush, and sealed batches wait in FIFO order for a free request slot.
 * A batch whose events all share one ID still sends it as the header.
 *
 * Each event's JSON is written as UTF-8 into its batch's request body the moment it is queued, so the
 * body is ready when the batch is sent (no join, no string-to-bytes pass over the batch), the write
 * itself measures the event's bytes, and the event's string dies young instead of surviving in the
 * queue until its batch goes out (docs/benchmarks/tracker.md: ~0.4 us less CPU per event).
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
  /** Events in the batch. */
  readonly count: number;
  /** UTF-8 bytes of the events plus the commas between them (the envelope is added when sent). */
  readonly bytes: number;
  /**
   * The request body `{"batch":[...],"sent_at":"<sentAtIso>","context":{...}}` (no context member when
   * the queue has none). Every call returns a view of the same memory with the new sent_at, so one
   * attempt's body must be consumed before the next call.
   */
  body(sentAtIso: string): Buffer;
  /** The events' JSON joined by commas, as in the body (for tests and diagnostics). */
  eventsText(): string;
  readonly done: Promise<void>;
  readonly finish: () => void;
}

const BODY_PREFIX = '{"batch":[';
const PREFIX_BYTES = BODY_PREFIX.length;
const COMMA = 0x2c;
/** Room kept after the events for `],"sent_at":"…"}` (a 24-character ISO time, with slack for years past 9999). */
const SENT_AT_TAIL_ROOM = BATCH_ENVELOPE_BYTES - PREFIX_BYTES + 8;
/** A new batch's first buffer when nothing was sent yet; later ones start at the size the last batch reached. */
const FIRST_CAPACITY = 16 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_BYTES_PER_UNIT = 3;

/** The batch being filled: its body so far (prefix, events and commas) in `buffer[0, used)`. */
class OpenBatch {
  buffer: Buffer;
  used = PREFIX_BYTES;
  count = 0;
  bytes = 0;
  correlationId = "";
  /** True when events of different correlation IDs (or with and without one) share this batch. */
  mixed = false;

  /** `tailRoom`: bytes kept free after the events for the body's tail (sent_at and the batch context). */
  constructor(
    capacity: number,
    private readonly tailRoom: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, PREFIX_BYTES + tailRoom));
    this.buffer.write(BODY_PREFIX, 0, "latin1");
  }

  /** Offset the next event starts at (after a comma when the batch has events). */
  get nextOffset(): number {
    return this.count === 0 ? this.used : this.used + 1;
  }

  /** Makes room for `eventBytes` more bytes of event plus the tail, copying into a bigger buffer if needed. */
  reserve(eventBytes: number): void {
    const needed = this.nextOffset + eventBytes + this.tailRoom;
    if (needed <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
  }

  /** Records an event whose bytes were written at nextOffset. */
  commit(eventBytes: number, correlationId: string): void {
    if (this.count === 0) this.correlationId = correlationId;
    else {
      this.buffer[this.used] = COMMA;
      this.bytes += 1;
      if (this.correlationId !== correlationId) this.mixed = true;
    }
    this.used = this.nextOffset + eventBytes;
    this.bytes += eventBytes;
    this.count++;
  }
}

/** Taken batches at the head of `ready` are cut off once there are this many (amortized O(1)). */
const READY_COMPACT_AT = 1024;

export class BatchQueue {
  private open: OpenBatch | undefined;
  private readonly ready: SealedBatch[] = [];
  private readyHead = 0;
  /** The buffer size a new batch starts with: what the last sealed batch used (steady traffic never grows one). */
  private nextCapacity = FIRST_CAPACITY;
  /** Events in open and sealed-but-unsent batches. */
  queuedEvents = 0;
  /** UTF-8 bytes of those events. */
  queuedBytes = 0;

  /** `,"context":{...}` after sent_at, or "" (then the body has no batch context). */
  private readonly contextMember: string;
  /** Body bytes around the events: the envelope with sent_at, and the context member. */
  private readonly envelopeBytes: number;
  private readonly tailRoom: number;

  /**
   * `batchContextJson`: the JSON object sent once per batch as its `context`, which the collector
   * merges under every event's own (runtime/tracker-event.ts says why); "" sends none.
   */
  constructor(
    private readonly limits: QueueLimits,
    batchContextJson = "",
  ) {
    this.contextMember = batchContextJson === "" ? "" : `,"context":${batchContextJson}`;
    const contextBytes = Buffer.byteLength(this.contextMember);
    this.envelopeBytes = BATCH_ENVELOPE_BYTES + contextBytes;
    this.tailRoom = SENT_AT_TAIL_ROOM + contextBytes;
  }

  /** Adds one serialized event; false (and nothing changes) when the queue is full. O(1) amortized. */
  add(json: string, correlationId: string): boolean {
    const { limits } = this;
    if (this.queuedEvents >= limits.maxQueueSize) return false;
    let batch = this.open;
    // Fast path: the event surely fits in the open batch's buffer, so writing it there measures it.
    // Nothing counts until commit(): a refused event leaves bytes past `used`, which the next write covers.
    let writtenIn: OpenBatch | undefined;
    let bytes: number;
    if (
      batch !== undefined &&
      batch.nextOffset + json.length * MAX_UTF8_BYTES_PER_UNIT + this.tailRoom <= batch.buffer.length
    ) {
      bytes = batch.buffer.write(json, batch.nextOffset);
      writtenIn = batch;
    } else bytes = Buffer.byteLength(json);
    if (this.queuedBytes + bytes > limits.maxQueueBytes) return false;
    // An event that would push the batch past the limit starts the next one (+1 for its comma).
    if (batch !== undefined && this.envelopeBytes + batch.bytes + 1 + bytes > limits.maxBatchBytes) {
      this.seal(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = new OpenBatch(this.nextCapacity, this.tailRoom);
      this.open = batch;
    }
    if (writtenIn !== batch) {
      batch.reserve(bytes);
      batch.buffer.write(json, batch.nextOffset);
    }
    batch.commit(bytes, correlationId);
    this.queuedEvents++;
    this.queuedBytes += bytes;
    if (batch.count >= limits.flushAt) this.seal(batch);
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
    this.queuedEvents -= batch.count;
    this.queuedBytes -= batch.bytes - (batch.count - 1);
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
    this.nextCapacity = Math.min(
      Math.max(FIRST_CAPACITY, batch.used + this.tailRoom),
      this.limits.maxBatchBytes + this.tailRoom,
    );
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const { buffer, used, count, bytes } = batch;
    const { contextMember } = this;
    this.ready.push({
      correlationId: batch.mixed ? "" : batch.correlationId,
      count,
      bytes,
      body(sentAtIso) {
        const end = used + buffer.write(`],"sent_at":"${sentAtIso}"${contextMember}}`, used);
        return buffer.subarray(0, end);
      },
      eventsText: () => buffer.toString("utf8", PREFIX_BYTES, used),
      done,
      finish,
    });
  }
}
