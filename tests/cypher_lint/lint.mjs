// Offline Neo4j Cypher lint: runs Neo4j's own Cypher front end (@neo4j-cypher/language-support)
// over every statement, once as Cypher 5 and once as Cypher 25.
//
// stdin:  {"schema": {"labels": [...], "relationshipTypes": [...], "propertyKeys": [...],
//                     "parameters": {name: value, ...}},
//          "statements": ["...", ...]}
// stdout: [{"statement": i, "diagnostics": [{"severity", "message", "line", "column", "language"}]}]
//         severity: 1 error, 2 warning, 3 information, 4 hint (LSP DiagnosticSeverity).
//         line and column are 1-based, counted in the statement as given.
// Exit status: 0 when the lint ran (whatever it found), 2 on bad input or a crash of this script.
// One process; CYPHER_LINT_WORKERS=n|auto optionally spreads the statements over worker threads.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { lintCypherQuery, parseStatementsStrs, testData } from '@neo4j-cypher/language-support';
// Deep import by file path (the package's "exports" map hides it). Used only to detect crashes of the
// semantic pass, which lintCypherQuery swallows (it then reports nothing, i.e. "clean").
import { analyzeQuery } from './node_modules/@neo4j-cypher/language-support/dist/esm/project/language-support/src/syntaxValidation/semanticAnalysis.js';

const LANGUAGES = ['CYPHER 5', 'CYPHER 25'];

// stdout carries the JSON result only: anything the library logs goes to stderr.
const toStderr = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;
console.debug = toStderr;

// Built-in functions only (no APOC) and db.* procedures, per version, from the package's snapshot
// of Neo4j's signatures. Without `functions`, unknown names such as label() lint clean.
const registry = (reg, pred) =>
  Object.fromEntries(
    LANGUAGES.map((v) => [v, Object.fromEntries(Object.entries(reg[v] ?? {}).filter(pred))]),
  );
const FUNCTIONS = registry(testData.mockSchema.functions, ([, f]) => f.isBuiltIn);
const PROCEDURES = registry(testData.mockSchema.procedures, ([name]) => name.startsWith('db.'));

function buildDbSchema(schema, language) {
  const s = schema ?? {};
  return {
    labels: s.labels ?? [],
    relationshipTypes: s.relationshipTypes ?? [],
    propertyKeys: s.propertyKeys ?? [],
    // declared = key present; values are not type-checked. null is fine, undefined is not (JSON has none).
    parameters: s.parameters ?? {},
    functions: FUNCTIONS,
    procedures: PROCEDURES,
    // The test hook makes Neo4j's semantic pass throw (an unknown version), to prove the guard works.
    defaultLanguage: process.env.CYPHER_LINT_FORCE_SEMANTIC_CRASH === '1' ? 'CYPHER 0' : language,
  };
}

const diag = (severity, message, line, column, language) => ({ severity, message, line, column, language });

function lintStatement(statement, schemas) {
  const out = [];
  if (typeof statement !== 'string' || statement.trim() === '') {
    return [diag(1, 'harness: statement is empty or not a string', 1, 1, null)];
  }
  const parts = parseStatementsStrs(statement);
  if (parts.length > 1) {
    out.push(diag(1, `harness: ${parts.length} statements in one string (the driver sends one)`, 1, 1, null));
  }
  for (const language of LANGUAGES) {
    const dbSchema = schemas[language];
    let symbolTables;
    try {
      const result = lintCypherQuery(statement, dbSchema, { consoleCommandsEnabled: false });
      symbolTables = result.symbolTables;
      for (const d of result.diagnostics) {
        out.push(diag(d.severity, d.message, d.range.start.line + 1, d.range.start.character + 1, language));
      }
    } catch (e) {
      out.push(diag(1, `harness: lintCypherQuery threw: ${e?.stack ?? e}`, 1, 1, language));
      continue;
    }
    // A crashed semantic pass is swallowed and leaves an empty symbol table (and no semantic
    // diagnostics, not even syntax errors). Empty tables also occur legitimately (schema commands,
    // statements the parser rejected), so only then rerun the pass unwrapped (the resolver for this
    // language is loaded already): an exception now fails the statement instead of passing it.
    if (symbolTables.every((t) => t.length === 0)) {
      try {
        analyzeQuery(statement, dbSchema.defaultLanguage);
      } catch (e) {
        out.push(diag(1, `harness: semantic analysis threw, lint incomplete: ${e?.message ?? e}`, 1, 1, language));
      }
    }
  }
  return out;
}

function lintAll(schema, items) {
  const schemas = Object.fromEntries(LANGUAGES.map((v) => [v, buildDbSchema(schema, v)]));
  return items.map(([i, statement]) => ({ statement: i, diagnostics: lintStatement(statement, schemas) }));
}

// Neo4j's semantic pass costs some 15-100 ms per statement and language. CYPHER_LINT_WORKERS=n spreads
// the statements over n worker threads (each loads the library once, about 1 s). Off by default: on a
// loaded 2-core machine it was not faster. "auto" picks min(cores, 4, statements / 20).
function workerCount(n) {
  const env = process.env.CYPHER_LINT_WORKERS ?? '1';
  const k = env === 'auto'
    ? Math.min(availableParallelism(), 4, Math.floor(n / 20))
    : Number.parseInt(env, 10);
  return Number.isFinite(k) && k > 1 ? Math.min(k, n) : 1;
}

function runWorker(schema, items) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { schema, items } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`lint worker exited with code ${code} before answering`)));
  });
}

async function main() {
  let input;
  try {
    input = JSON.parse(readFileSync(0, 'utf8'));
  } catch (e) {
    process.stderr.write(`lint.mjs: stdin is not JSON: ${e.message}\n`);
    process.exit(2);
  }
  if (!input || !Array.isArray(input.statements)) {
    process.stderr.write('lint.mjs: expected {"schema": {...}, "statements": [...]}\n');
    process.exit(2);
  }
  const items = input.statements.map((s, i) => [i, s]);
  const k = workerCount(items.length);
  let result;
  if (k === 1) {
    result = lintAll(input.schema, items);
  } else {
    const shares = Array.from({ length: k }, (_, w) => items.filter(([i]) => i % k === w));
    result = (await Promise.all(shares.map((share) => runWorker(input.schema, share))))
      .flat()
      .sort((a, b) => a.statement - b.statement);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (isMainThread) {
  main().catch((e) => {
    process.stderr.write(`lint.mjs: ${e?.stack ?? e}\n`);
    process.exit(2);
  });
} else {
  parentPort.postMessage(lintAll(workerData.schema, workerData.items));
}
