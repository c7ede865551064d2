import type * as pulumi from "@pulumi/pulumi";

/**
 * SST-style transform of a child resource's args: either a partial object merged over the defaults,
 * or a function that edits the args (and options) in place. Pulumi's `transforms` resource option
 * is not used because it does not run under mocks.
 */
export type Transform<Args> =
  | Partial<Args>
  | ((args: Args, opts: pulumi.CustomResourceOptions, name: string) => void);

/** Apply `t` (if any) to a child's defaults; returns the name, args and options to construct it with. */
export function transform<Args extends object>(
  t: Transform<Args> | undefined,
  name: string,
  args: Args,
  opts: pulumi.CustomResourceOptions,
): [string, Args, pulumi.CustomResourceOptions] {
  if (t === undefined) return [name, args, opts];
  if (typeof t === "function") {
    t(args, opts, name);
    return [name, args, opts];
  }
  return [name, { ...args, ...t }, opts];
}
