// Public entry point of the app-side runtime library (`observatory/runtime`). No side effects on import.
