/**
 * Typed Amazon States Language (JSONPath flavour), only the fields this project generates. Building
 * ASL from these types (not from strings) lets the compiler catch a misspelt field.
 */

export type PayloadTemplate = { [key: string]: unknown };

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: "FULL" | "NONE";
}
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

interface StateBase {
  Comment?: string;
  InputPath?: string | null;
  OutputPath?: string | null;
  Next?: string;
  End?: true;
}
export interface TaskState extends StateBase {
  Type: "Task";
  Resource: string;
  Parameters?: PayloadTemplate;
  ResultSelector?: PayloadTemplate;
  ResultPath?: string | null;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
  Catch?: Catcher[];
}
export interface PassState extends StateBase {
  Type: "Pass";
  Parameters?: PayloadTemplate;
  Result?: unknown;
  ResultPath?: string | null;
}
export interface ChoiceRule {
  Variable: string;
  StringEquals?: string;
  IsPresent?: boolean;
  Next: string;
}
export interface ChoiceState {
  Type: "Choice";
  Comment?: string;
  Choices: ChoiceRule[];
  Default?: string;
}
export interface SucceedState {
  Type: "Succeed";
  Comment?: string;
  InputPath?: string | null;
  OutputPath?: string | null;
}
export interface FailState {
  Type: "Fail";
  Comment?: string;
  Error?: string;
  Cause?: string;
  ErrorPath?: string;
  CausePath?: string;
}
export interface ItemReader {
  Resource: "arn:aws:states:::s3:getObject";
  ReaderConfig: { InputType: "JSONL" | "JSON" | "CSV"; MaxItems?: number };
  Parameters: PayloadTemplate;
}
export interface ItemBatcher {
  MaxItemsPerBatch?: number;
  MaxInputBytesPerBatch?: number;
  BatchInput?: PayloadTemplate;
}
export interface ResultWriter {
  Resource: "arn:aws:states:::s3:putObject";
  Parameters: PayloadTemplate;
}
export interface MapState extends StateBase {
  Type: "Map";
  ItemProcessor: {
    ProcessorConfig: { Mode: "DISTRIBUTED"; ExecutionType: "EXPRESS" | "STANDARD" } | { Mode: "INLINE" };
    StartAt: string;
    States: Record<string, State>;
  };
  ItemsPath?: string;
  ItemSelector?: PayloadTemplate;
  ItemReader?: ItemReader;
  ItemBatcher?: ItemBatcher;
  ResultWriter?: ResultWriter;
  MaxConcurrency?: number;
  ToleratedFailurePercentage?: number;
  ToleratedFailureCount?: number;
  Label?: string;
  ResultSelector?: PayloadTemplate;
  ResultPath?: string | null;
  Retry?: Retrier[];
  Catch?: Catcher[];
}
export type State = TaskState | PassState | ChoiceState | SucceedState | FailState | MapState;

export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}

/**
 * A string literal inside an intrinsic function (`States.Format('...')`): the ASL spec requires
 * `'`, `{`, `}` and `\` to be escaped with a backslash.
 */
export function intrinsicLiteral(text: string): string {
  return `'${escapeIntrinsic(text)}'`;
}

function escapeIntrinsic(text: string): string {
  return text.replace(/[\\'{}]/g, (c) => `\\${c}`);
}

/**
 * `States.Format('<literal>{}<literal>...', args...)`: literal parts escaped, one `{}` between parts
 * for each argument path.
 */
export function formatIntrinsic(literals: string[], args: string[]): string {
  if (literals.length !== args.length + 1)
    throw new Error("formatIntrinsic: need one more literal than arguments");
  return `States.Format('${literals.map(escapeIntrinsic).join("{}")}', ${args.join(", ")})`;
}
