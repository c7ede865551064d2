// Public entry point of the app-side runtime library (`observatory/runtime`). No side effects on import.
export {
  type CorrelationContext,
  correlationStorage,
  currentCorrelationContext,
  currentCorrelationId,
  runWithCorrelation,
} from "./correlation-context.js";
