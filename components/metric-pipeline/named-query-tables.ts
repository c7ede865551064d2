/**
 * Tables a named query reads: the identifiers after FROM and JOIN (our named queries are simple
 * SELECTs over plain table names). Used to deploy only the queries whose tables the pipeline has.
 * CTE names (`WITH x AS (...)`) and table functions (`UNNEST(...)`) are not tables and are left out.
 */
export function tablesReadBy(sql: string): string[] {
  const withoutStrings = sql.replace(/'(?:[^']|'')*'/g, "''").replace(/--[^\n]*/g, "");
  const ctes = new Set(
    [...withoutStrings.matchAll(/(?:\bWITH|,)\s+([a-z_][a-z0-9_]*)\s+AS\s*\(/gi)].map((m) =>
      (m[1] as string).toLowerCase(),
    ),
  );
  // An identifier followed by `(` is a table function (`CROSS JOIN UNNEST(reasons)`), not a table.
  const tables = [...withoutStrings.matchAll(/\b(?:FROM|JOIN)\s+"?([a-z_][a-z0-9_]*)\b"?(?!\s*\()/gi)]
    .map((m) => (m[1] as string).toLowerCase())
    .filter((t) => !ctes.has(t));
  return [...new Set(tables)].sort();
}
