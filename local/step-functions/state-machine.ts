// The polyfill must be evaluated before aws-local-stepfunctions: ES modules evaluate in import order.
import "./promise-polyfill.js";

export { ExecutionError, StateMachine } from "aws-local-stepfunctions";
export { announcePromisePolyfill, PROMISE_WITH_RESOLVERS_POLYFILLED } from "./promise-polyfill.js";
