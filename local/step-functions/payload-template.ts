/**
 * Evaluates an ASL payload template (`"Key.$": "$.path"`, intrinsic functions, `$$` context) with
 * aws-local-stepfunctions itself, by running a one-state Pass machine: the adapter's templates
 * (ItemReader Parameters, ItemSelector, BatchInput, ResultWriter Parameters) then behave exactly as
 * the library's own Parameters do, with no second JSONPath implementation.
 */
import { StateMachine } from "./state-machine.js";

type Json = Parameters<StateMachine["run"]>[0];
type Context = NonNullable<NonNullable<Parameters<StateMachine["run"]>[1]>["context"]>;

const cache = new WeakMap<object, StateMachine>();

export async function evaluateTemplate(
  template: Record<string, unknown>,
  input: unknown,
  context: Record<string, unknown>,
): Promise<unknown> {
  let machine = cache.get(template);
  if (!machine) {
    machine = new StateMachine(
      {
        StartAt: "Evaluate",
        States: { Evaluate: { Type: "Pass", Parameters: template as never, End: true } },
      },
      { validationOptions: { noValidate: true } },
    );
    cache.set(template, machine);
  }
  return machine.run(input as Json, { context: context as Context }).result;
}
