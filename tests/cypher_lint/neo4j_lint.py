"""Python side of the offline Neo4j Cypher lint harness.

``lint_cypher`` pipes all statements to one ``node lint.mjs`` process, which runs
``@neo4j-cypher/language-support`` (Neo4j's own Cypher front end) on each statement under Cypher 5 and
under Cypher 25. The caller passes the real graph schema; nothing is inferred from the statements.

Project rule: a statement is clean when it has no diagnostics at all, or only warnings the caller
explicitly allows (see ``problems``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LINT_DIR = Path(__file__).resolve().parent
LINT_SCRIPT = LINT_DIR / "lint.mjs"
PACKAGE_DIR = LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support"
INSTALL_COMMAND = "npm ci --prefix tests/cypher_lint --no-audit --no-fund"

ERROR = 1
WARNING = 2
INFORMATION = 3
HINT = 4
_SEVERITY_NAMES = {ERROR: "error", WARNING: "warning", INFORMATION: "information", HINT: "hint"}


@dataclass(frozen=True)
class Diagnostic:
    severity: int  # LSP DiagnosticSeverity: 1 error, 2 warning, 3 information, 4 hint
    message: str
    line: int  # 1-based, within the statement
    column: int  # 1-based
    language: str | None  # "CYPHER 5", "CYPHER 25", or None for harness-level findings

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        sev = _SEVERITY_NAMES.get(self.severity, str(self.severity))
        lang = self.language or "harness"
        return f"{self.line}:{self.column} {sev} [{lang}] {self.message}"


class CypherLintError(RuntimeError):
    """The lint process itself failed (not: the statements have findings)."""


def _node() -> str | None:
    return os.environ.get("CYPHER_LINT_NODE") or shutil.which("node")


def ensure_linter_installed() -> str | None:
    """None when the linter can run; otherwise the reason it cannot (for pytest.skip / pytest.fail)."""
    if _node() is None:
        return "node is not on PATH (Node >= 20 is needed for the Cypher lint harness)"
    if not PACKAGE_DIR.is_dir():
        return f"@neo4j-cypher/language-support is not installed; run: {INSTALL_COMMAND}"
    return None


def lint_cypher(
    statements: Sequence[str],
    *,
    labels: Iterable[str],
    relationship_types: Iterable[str],
    property_keys: Iterable[str],
    parameters: Mapping[str, object],
    timeout: float = 900.0,
) -> list[list[Diagnostic]]:
    """Lint each statement under Cypher 5 and Cypher 25; one list of diagnostics per statement.

    ``parameters``: the declared ``$names``; only the keys matter (values are not type-checked).
    ``timeout``: the linter takes about 93 s for every statement on a quiet 2-core machine; on one shared with
    other work it went past 300 s (2026-12-02), so the bound is for a linter that hangs, not a slow one.
    A statement string holding several ``;``-separated statements gets a harness error.
    """
    reason = ensure_linter_installed()
    if reason is not None:
        raise CypherLintError(reason)
    payload = {
        "schema": {
            "labels": sorted(set(labels)),
            "relationshipTypes": sorted(set(relationship_types)),
            "propertyKeys": sorted(set(property_keys)),
            "parameters": dict(parameters),
        },
        "statements": list(statements),
    }
    proc = subprocess.run(
        [_node(), str(LINT_SCRIPT)],
        input=json.dumps(payload, default=repr),
        capture_output=True,
        text=True,
        cwd=LINT_DIR,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise CypherLintError(f"lint.mjs exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        raw = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise CypherLintError(f"lint.mjs wrote no JSON ({e}): {proc.stdout[:500]!r}") from e
    if len(raw) != len(payload["statements"]):
        raise CypherLintError(f"lint.mjs answered {len(raw)} results for {len(payload['statements'])} statements")
    result: list[list[Diagnostic]] = []
    for i, item in enumerate(raw):
        if item["statement"] != i:
            raise CypherLintError(f"lint.mjs result {i} is for statement {item['statement']}")
        result.append([Diagnostic(**d) for d in item["diagnostics"]])
    return result


def problems(diagnostics: Iterable[Diagnostic], allowed_warnings: Iterable[str] = ()) -> list[Diagnostic]:
    """The diagnostics that break the project rule: every one except warnings whose message contains
    one of ``allowed_warnings`` (substrings). Errors can never be allowed."""
    allowed = tuple(allowed_warnings)
    return [d for d in diagnostics if not (d.severity == WARNING and any(a in d.message for a in allowed))]


def format_report(statements: Sequence[str], results: Sequence[Sequence[Diagnostic]]) -> str:
    """Human-readable listing of the statements that have diagnostics (for assertion messages)."""
    lines: list[str] = []
    for stmt, diags in zip(statements, results, strict=True):
        if diags:
            lines.append("--- " + " ".join(stmt.split())[:200])
            lines.extend(f"    {d}" for d in diags)
    return "\n".join(lines)
