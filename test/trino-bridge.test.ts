// Each expectation is the answer Trino (Athena engine v3) gives, taken from the Trino function docs
// (trino.io/docs/current/functions/*) where they show one; the bridge must make DuckDB give the same.
import { readFileSync } from "node:fs";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  installTrinoBridge,
  mysqlToStrftimeFormat,
  rewriteTrinoSql,
  stringConversionArguments,
  TRINO_MACROS,
  TRINO_REWRITTEN_FUNCTIONS,
} from "../local/trino-bridge.js";

let instance: DuckDBInstance;
let connection: DuckDBConnection;

beforeAll(async () => {
  instance = await DuckDBInstance.create(":memory:");
  connection = await instance.connect();
  await installTrinoBridge(connection);
});
afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
});

/** Runs Trino SQL through the bridge and returns the single value it selects. */
async function trino(expression: string): Promise<unknown> {
  const sql = await rewriteTrinoSql(connection, `SELECT ${expression} AS v`);
  const reader = await connection.runAndReadAll(sql);
  const value = reader.getRowObjectsJS()[0]?.v;
  return typeof value === "bigint" ? Number(value) : value;
}

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : value);

describe("integer division (SET integer_division)", () => {
  it("divides integers like Trino: truncating toward zero", async () => {
    expect(await trino("5 / 2")).toBe(2);
    expect(await trino("-5 / 2")).toBe(-2);
    expect(await trino("CAST(7 AS bigint) / CAST(2 AS bigint)")).toBe(3);
  });
  it("keeps decimal and double division exact", async () => {
    expect(await trino("CAST(5 AS double) / 2")).toBe(2.5);
    expect(Number(await trino("5.0 / 2"))).toBe(2.5);
  });
});

describe("date and time", () => {
  it("date_parse reads MySQL-style formats", async () => {
    expect(iso(await trino("date_parse('2022/10/20/05', '%Y/%m/%d/%H')"))).toBe("2022-10-20T05:00:00.000Z");
    expect(iso(await trino("date_parse('2024-02-29 13:45:07', '%Y-%m-%d %H:%i:%s')"))).toBe(
      "2024-02-29T13:45:07.000Z",
    );
    expect(iso(await trino("date_parse('Jan 5 2024 01:02:03 PM', '%b %e %Y %r')"))).toBe(
      "2024-01-05T13:02:03.000Z",
    );
  });
  it("date_format writes MySQL-style formats", async () => {
    expect(await trino("date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')")).toBe("10-20-2022 05");
    expect(await trino("date_format(TIMESTAMP '2022-10-20 05:10:09', '%Y-%m-%d %H:%i:%s')")).toBe(
      "2022-10-20 05:10:09",
    );
    expect(await trino("date_format(TIMESTAMP '2022-10-20 05:10:09', '%M %W %T')")).toBe(
      "October Thursday 05:10:09",
    );
  });
  it("date_parse needs a literal format locally, and says so", async () => {
    await expect(
      rewriteTrinoSql(connection, "SELECT date_parse(s, f) FROM (VALUES ('a', 'b')) t(s, f)"),
    ).rejects.toThrow(/string literal/);
  });
  it("from_unixtime, from_iso8601_timestamp, to_unixtime", async () => {
    expect(iso(await trino("from_unixtime(1700000000)"))).toBe("2023-11-14T22:13:20.000Z");
    expect(iso(await trino("from_unixtime(1500000000.5)"))).toBe("2017-07-14T02:40:00.500Z");
    expect(iso(await trino("from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')"))).toBe(
      "2020-05-11T10:15:05.055Z",
    );
    expect(iso(await trino("from_iso8601_timestamp('2020-05-11T11:15:05Z')"))).toBe(
      "2020-05-11T11:15:05.000Z",
    );
    expect(await trino("to_unixtime(TIMESTAMP '2023-11-14 22:13:20.250')")).toBe(1700000000.25);
  });
  it("date_add takes Trino's (unit, value, timestamp) and clamps months", async () => {
    expect(iso(await trino("date_add('day', 1, TIMESTAMP '2020-01-31 10:00:00')"))).toBe(
      "2020-02-01T10:00:00.000Z",
    );
    expect(iso(await trino("date_add('month', 1, TIMESTAMP '2020-01-31 00:00:00')"))).toBe(
      "2020-02-29T00:00:00.000Z",
    );
    expect(iso(await trino("date_add('hour', -3, TIMESTAMP '2020-01-01 01:00:00')"))).toBe(
      "2019-12-31T22:00:00.000Z",
    );
    expect(iso(await trino("date_add('quarter', 1, TIMESTAMP '2020-01-15 00:00:00')"))).toBe(
      "2020-04-15T00:00:00.000Z",
    );
    expect(iso(await trino("date_add('millisecond', 250, TIMESTAMP '2020-01-01 00:00:00')"))).toBe(
      "2020-01-01T00:00:00.250Z",
    );
    await expect(trino("date_add('fortnight', 1, TIMESTAMP '2020-01-01 00:00:00')")).rejects.toThrow(
      /unknown unit fortnight/,
    );
  });
  it("to_iso8601 prints timestamps, timestamps with zone and dates as Trino does", async () => {
    expect(await trino("to_iso8601(TIMESTAMP '2020-01-02 03:04:05.678')")).toBe("2020-01-02T03:04:05.678");
    expect(await trino("to_iso8601(from_iso8601_timestamp('2020-01-02T04:04:05.678+01:00'))")).toBe(
      "2020-01-02T03:04:05.678Z",
    );
    expect(await trino("to_iso8601(DATE '2020-01-02')")).toBe("2020-01-02");
  });
  it("ISO calendar parts and month ends", async () => {
    expect(await trino("day_of_month(DATE '2020-01-31')")).toBe(31);
    expect(await trino("week_of_year(DATE '2021-01-03')")).toBe(53);
    expect(await trino("year_of_week(DATE '2021-01-03')")).toBe(2020);
    expect(iso(await trino("last_day_of_month(DATE '2020-02-10')"))).toBe("2020-02-29T00:00:00.000Z");
  });
  it("sequence is inclusive of stop", async () => {
    expect(((await trino("sequence(1, 5)")) as bigint[]).map(Number)).toEqual([1, 2, 3, 4, 5]);
    expect(((await trino("sequence(1, 10, 3)")) as bigint[]).map(Number)).toEqual([1, 4, 7, 10]);
    const days = (await trino("sequence(DATE '2020-01-01', DATE '2020-01-03', INTERVAL '1' DAY)")) as Date[];
    expect(days.map((d) => d.toISOString().slice(0, 10))).toEqual(["2020-01-01", "2020-01-02", "2020-01-03"]);
  });
  it("day_of_week is ISO (Sunday = 7), date() casts", async () => {
    expect(await trino("day_of_week(DATE '2024-01-07')")).toBe(7);
    expect(await trino("day_of_year(DATE '2024-02-01')")).toBe(32);
    expect(iso(await trino("date(TIMESTAMP '2024-01-07 23:59:59')"))).toBe("2024-01-07T00:00:00.000Z");
  });
});

describe("JSON", () => {
  it("json_extract_scalar returns scalars as text and NULL for objects, arrays, misses and bad JSON", async () => {
    expect(await trino(`json_extract_scalar('[1, 2, 3]', '$[2]')`)).toBe("3");
    expect(await trino(`json_extract_scalar('{"a": {"b": "x"}}', '$.a.b')`)).toBe("x");
    expect(await trino(`json_extract_scalar('{"a": true}', '$.a')`)).toBe("true");
    expect(await trino(`json_extract_scalar('{"a": {"b": "x"}}', '$.a')`)).toBeNull();
    expect(await trino(`json_extract_scalar('{"a": [1]}', '$.a')`)).toBeNull();
    expect(await trino(`json_extract_scalar('{"a": 1}', '$.zzz')`)).toBeNull();
    expect(await trino(`json_extract_scalar('not json', '$.a')`)).toBeNull();
    expect(await trino(`json_extract_scalar('{"a b": "x"}', '$["a b"]')`)).toBe("x");
  });
});

describe("CAST(json AS varchar) (Trino docs, JSON functions: Cast from JSON)", () => {
  it("gives a JSON string's value without quotes, numbers and booleans as text, JSON null as NULL", async () => {
    expect(await trino(`CAST(json_extract('{"query": "vintage car"}', '$.query') AS varchar)`)).toBe(
      "vintage car",
    );
    expect(await trino(`CAST(json_extract('{"q": "say \\"hi\\"\\n"}', '$.q') AS varchar)`)).toBe(
      'say "hi"\n',
    );
    expect(await trino(`CAST(json_extract('{"n": 42}', '$.n') AS varchar)`)).toBe("42");
    expect(await trino(`CAST(json_extract('{"b": true}', '$.b') AS varchar)`)).toBe("true");
    expect(await trino(`CAST(json_extract('{"z": null}', '$.z') AS varchar)`)).toBeNull();
    expect(await trino(`CAST(json_extract('{"a": 1}', '$.missing') AS varchar)`)).toBeNull();
  });
  it("refuses an object or array, as Trino does; TRY_CAST gives NULL", async () => {
    await expect(trino(`CAST(json_extract('{"a": {"b": 1}}', '$.a') AS varchar)`)).rejects.toThrow(
      /Cannot cast JSON object to varchar/,
    );
    await expect(trino(`CAST(json_extract('{"a": [1]}', '$.a') AS varchar)`)).rejects.toThrow(
      /Cannot cast JSON array to varchar/,
    );
    expect(await trino(`TRY_CAST(json_extract('{"a": [1]}', '$.a') AS varchar)`)).toBeNull();
    expect(await trino(`TRY_CAST(json_extract('{"a": "x"}', '$.a') AS varchar)`)).toBe("x");
  });
  it("works per row, in WHERE and GROUP BY, and keeps the column's name", async () => {
    const sql = await rewriteTrinoSql(
      connection,
      `SELECT CAST(json_extract(p, '$.q') AS varchar) AS q, count(*) AS n FROM (VALUES ('{"q": "cats"}'), ('{"q": "dogs"}'), ('{"q": "cats"}')) t(p)
       WHERE CAST(json_extract(p, '$.q') AS varchar) <> 'dogs' GROUP BY 1`,
    );
    const reader = await connection.runAndReadAll(sql);
    expect(reader.getRowObjectsJS()).toEqual([{ q: "cats", n: 2n }]);
  });
  it("leaves other casts to VARCHAR alone", async () => {
    const sql = "SELECT CAST(json_extract_scalar(p, '$.q') AS varchar) AS q FROM (VALUES ('{}')) t(p)";
    expect(await rewriteTrinoSql(connection, sql)).toBe(sql);
  });
});

describe("table names as the Athena console qualifies them", () => {
  beforeAll(async () => {
    await connection.run("CREATE OR REPLACE VIEW events AS SELECT 'page_viewed' AS event");
  });
  const rows = async (sql: string, databases?: string[]) =>
    (await connection.runAndReadAll(await rewriteTrinoSql(connection, sql, { databases }))).getRowObjectsJS();

  it("drops awsdatacatalog.<database>. and <database>. when the database is the pipeline's", async () => {
    const want = [{ event: "page_viewed" }];
    expect(await rows("SELECT event FROM awsdatacatalog.observatory_prod.events")).toEqual(want);
    expect(await rows('SELECT e.event FROM "AwsDataCatalog"."observatory".events e')).toEqual(want);
    expect(await rows("SELECT observatory_dev.events.event FROM observatory_dev.events")).toEqual(want);
    expect(await rows("SELECT event FROM analytics.events", ["analytics"])).toEqual(want);
  });
  it("leaves other qualifiers for DuckDB to report", async () => {
    await expect(rows("SELECT event FROM otherdb.events")).rejects.toThrow(/otherdb/);
    await expect(rows("SELECT event FROM othercatalog.observatory.events")).rejects.toThrow(/othercatalog/);
  });
});

describe("aggregates", () => {
  it("approx_distinct counts within Trino's error (exactly, locally)", async () => {
    const reader = await connection.runAndReadAll("SELECT approx_distinct(x) AS v FROM range(0, 10000) t(x)");
    const estimate = Number(reader.getRowObjectsJS()[0]?.v);
    // Trino documents a standard error of 2.3%; the local answer is exact.
    expect(estimate).toBe(10000);
  });
  it("approx_percentile answers single and array percentages", async () => {
    const reader = await connection.runAndReadAll(
      "SELECT approx_percentile(x, 0.5) AS median, approx_percentile(x, ARRAY[0.1, 0.9]) AS deciles FROM range(1, 1001) t(x)",
    );
    const row = reader.getRowObjectsJS()[0]!;
    // A value of the data set at the percentile (Trino's qdigest answers within its error of these).
    expect(Number(row.median)).toBe(500);
    expect((row.deciles as bigint[]).map(Number)).toEqual([100, 900]);
  });
});

describe("regular expressions", () => {
  it("regexp_like matches anywhere in the string", async () => {
    expect(await trino(String.raw`regexp_like('1a 2b 14m', '\d+b')`)).toBe(true);
    expect(await trino(`regexp_like('abc', '^b')`)).toBe(false);
  });
  it("regexp_replace replaces every match, with $n group references", async () => {
    expect(await trino(String.raw`regexp_replace('1a 2b 14m', '\d+[ab] ')`)).toBe("14m");
    expect(await trino(String.raw`regexp_replace('1a 2b 14m', '(\d+)([ab]) ', '3c$2 ')`)).toBe("3ca 3cb 14m");
    expect(await trino(`regexp_replace('aXbXc', 'X', '-')`)).toBe("a-b-c");
    expect(await trino(String.raw`regexp_replace('cost 5', '(\d)', '\$$1')`)).toBe("cost $5");
  });
});

describe("arrays and maps", () => {
  it("element_at is 1-based, counts from the end when negative, NULL past the end", async () => {
    expect(await trino("element_at(ARRAY[1, 2, 3], 2)")).toBe(2);
    expect(await trino("element_at(ARRAY[1, 2, 3], -1)")).toBe(3);
    expect(await trino("element_at(ARRAY[1, 2, 3], 5)")).toBeNull();
    expect(await trino("element_at(MAP(ARRAY['a', 'b'], ARRAY[1, 2]), 'b')")).toBe(2);
    expect(await trino("element_at(MAP(ARRAY['a', 'b'], ARRAY[1, 2]), 'z')")).toBeNull();
  });
  it("cardinality counts arrays and maps", async () => {
    expect(await trino("cardinality(ARRAY[1, 2, 3])")).toBe(3);
    expect(await trino("cardinality(ARRAY['a'])")).toBe(1);
    expect(await trino("cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))")).toBe(2);
  });
  it("array_join skips NULLs unless given a replacement", async () => {
    expect(await trino("array_join(ARRAY['a', NULL, 'b'], ',')")).toBe("a,b");
    expect(await trino("array_join(ARRAY['a', NULL, 'b'], ',', 'N')")).toBe("a,N,b");
    expect(await trino("array_join(ARRAY[1, 2, 3], '-')")).toBe("1-2-3");
  });
  it("array_position is 0 when absent; transform maps a lambda", async () => {
    expect(await trino("array_position(ARRAY[10, 20], 20)")).toBe(2);
    expect(await trino("array_position(ARRAY[10, 20], 30)")).toBe(0);
    expect((await trino("transform(ARRAY[1, 2], x -> x * 2)")) as unknown[]).toEqual([2, 4]);
  });
});

describe("same name, different answer in DuckDB: bridged to Trino's", () => {
  it("concat is NULL when an argument is NULL, and concatenates arrays", async () => {
    expect(await trino("concat('a', NULL)")).toBeNull();
    expect(await trino("concat('a', 'b', 'c')")).toBe("abc");
    expect((await trino("concat(ARRAY[1], ARRAY[2, 3])")) as unknown[]).toEqual([1, 2, 3]);
  });
  it("greatest and least are NULL when an argument is NULL", async () => {
    expect(await trino("greatest(1, NULL, 3)")).toBeNull();
    expect(await trino("greatest(1, 5, 3)")).toBe(5);
    expect(await trino("least(4, 2)")).toBe(2);
  });
  it("regexp_extract and split_part are NULL when there is nothing to return", async () => {
    expect(await trino("regexp_extract('abc', 'x')")).toBeNull();
    expect(await trino("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)")).toBe("a");
    expect(await trino("split_part('a,b', ',', 5)")).toBeNull();
    expect(await trino("split_part('a,b', ',', 2)")).toBe("b");
  });
  it("date_diff counts whole units elapsed", async () => {
    expect(
      await trino("date_diff('day', TIMESTAMP '2020-01-01 23:00:00', TIMESTAMP '2020-01-02 01:00:00')"),
    ).toBe(0);
    expect(
      await trino("date_diff('hour', TIMESTAMP '2020-01-01 23:00:00', TIMESTAMP '2020-01-02 01:00:00')"),
    ).toBe(2);
    expect(
      await trino(
        "date_diff('second', TIMESTAMP '2020-01-01 00:00:00', TIMESTAMP '2020-01-01 00:00:01.900')",
      ),
    ).toBe(1);
  });
  it("json_extract reads Trino paths and returns JSON", async () => {
    expect(await trino(`json_extract('{"a b": [1, 2]}', '$["a b"]')`)).toBe("[1,2]");
    expect(await trino(`json_extract('nope', '$.a')`)).toBeNull();
  });
});

describe("same name, same answer: no bridge needed (checked so a DuckDB upgrade cannot change it unnoticed)", () => {
  it("answers as Trino does", async () => {
    expect(await trino("strpos('abc', 'z')")).toBe(0);
    expect(await trino("substr('hello', 2, 3)")).toBe("ell");
    expect((await trino("split('a,b', ',')")) as unknown[]).toEqual(["a", "b"]);
    expect(await trino("contains(ARRAY[1, 2], 2)")).toBe(true);
    expect(iso(await trino("date_trunc('week', DATE '2024-01-10')"))).toBe("2024-01-08T00:00:00.000Z");
    expect(await trino("replace('aaa', 'a', 'b')")).toBe("bbb");
    expect(await trino("if(1 > 0, 'y', 'n')")).toBe("y");
    expect(await trino("try(CAST('x' AS integer))")).toBeNull();
    expect(await trino("mod(-7, 3)")).toBe(-1);
    expect(await trino("length('日本')")).toBe(2);
    expect(await trino("lpad('ab', 1, 'x')")).toBe("a");
    const reader = await connection.runAndReadAll(
      "SELECT count_if(x > 1) AS n FROM (VALUES (1), (2), (3)) t(x)",
    );
    expect(Number(reader.getRowObjectsJS()[0]!.n)).toBe(2);
  });
  it("sorts NULLs last in both directions, as Trino does by default", async () => {
    for (const [order, want] of [
      ["ASC", [1, 3, null]],
      ["DESC", [3, 1, null]],
    ] as const) {
      const reader = await connection.runAndReadAll(
        `SELECT x FROM (VALUES (1), (NULL), (3)) t(x) ORDER BY x ${order}`,
      );
      expect(reader.getRowObjectsJS().map((r) => r.x)).toEqual(want);
    }
  });
});

describe("format (java.util.Formatter)", () => {
  it("answers the Trino docs' examples", async () => {
    expect(await trino("format('%s%%', 123)")).toBe("123%");
    expect(await trino("format('%.5f', pi())")).toBe("3.14159");
    expect(await trino("format('%03d', 8)")).toBe("008");
    expect(await trino("format('%-7s,%7s', 'hello', 'world')")).toBe("hello  ,  world");
    expect(await trino("format('%2$s %3$s %1$s', 'a', 'b', 'c')")).toBe("b c a");
  });
  it("finds the arguments a %s consumes", () => {
    expect(stringConversionArguments("%s-%d-%s")).toEqual([1, 3]);
    expect(stringConversionArguments("%2$s %1$d %%s")).toEqual([2]);
    expect(stringConversionArguments("%1$s %1$d")).toEqual([]);
  });
});

describe("rewriting is parse-aware and minimal", () => {
  it("leaves string literals, quoted identifiers and comments alone", async () => {
    const sql = `SELECT 'format(''%s'', 1)' AS "format(x)", format('%s', 1) AS y -- format(`;
    const rewritten = await rewriteTrinoSql(connection, sql);
    const row = (await connection.runAndReadAll(rewritten)).getRowObjectsJS()[0]!;
    expect(row["format(x)"]).toBe("format('%s', 1)");
    expect(row.y).toBe("1");
  });
  it("passes SQL that needs no rewrite through verbatim", async () => {
    const sql = "SELECT regexp_replace(x, 'a') AS y, x FROM (VALUES ('aba')) t(x) -- keeps this comment";
    expect(await rewriteTrinoSql(connection, sql)).toBe(sql);
  });
  it("names unaliased expression columns _col<position>, as Athena does", async () => {
    const sql = await rewriteTrinoSql(
      connection,
      "SELECT x, count(*), length(x) AS y, upper(x) FROM (VALUES ('a')) t(x) GROUP BY x",
    );
    const reader = await connection.runAndReadAll(sql);
    expect(reader.columnNames()).toEqual(["x", "_col1", "y", "_col3"]);
    const union = await rewriteTrinoSql(connection, "SELECT 1 UNION ALL SELECT 2");
    expect((await connection.runAndReadAll(union)).columnNames()).toEqual(["_col0"]);
    const star = "SELECT *, 1 FROM (VALUES ('a')) t(x)";
    expect(await rewriteTrinoSql(connection, star)).toBe(star);
  });
  it("translates MySQL specifiers in one pass", () => {
    expect(mysqlToStrftimeFormat("%Y-%m-%d %H:%i:%s")).toBe("%Y-%m-%d %H:%M:%S");
    expect(mysqlToStrftimeFormat("%M %i %%i")).toBe("%B %M %%i");
  });
  it("every macro installs (a typo would fail here, not in a user's query)", async () => {
    const reader = await connection.runAndReadAll(
      "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'macro' AND schema_name = 'main'",
    );
    const installed = new Set(reader.getRowObjectsJS().map((r) => r.function_name));
    for (const macro of TRINO_MACROS) expect(installed).toContain(macro.name);
  });
});

describe("docs/athena-functions.md", () => {
  it("lists every bridged function", () => {
    const doc = readFileSync(new URL("../docs/athena-functions.md", import.meta.url), "utf8");
    const bridged = [...TRINO_MACROS.filter((m) => m.trino.length > 0), ...TRINO_REWRITTEN_FUNCTIONS].map(
      (f) => f.name,
    );
    for (const name of bridged) expect(doc).toContain(`| \`${name}\` |`);
  });
});
