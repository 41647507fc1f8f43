"""Print the rules table of docs/accounts.md; ``--write`` replaces it there between its markers."""

from __future__ import annotations

import sys
from pathlib import Path

from web.access.permissions import RULES, describe

BEGIN, END = "<!-- rules:begin -->", "<!-- rules:end -->"
DOC = Path(__file__).resolve().parents[3] / "docs" / "accounts.md"


def rules_markdown() -> str:
    """The table of every rule, by route name, between the markers."""
    lines = [BEGIN, "| route name | who may | supervisors may write | what |", "|---|---|---|---|"]
    for name in sorted(RULES):
        rule = RULES[name]
        writes = "own session only" if rule.self_service else "own signature only" if rule.attests else "no"
        lines.append(f"| `{name}` | {describe(rule)} | {writes} | {rule.doc} |")
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    table = rules_markdown()
    if argv[:1] != ["--write"]:
        print(table)
        return 0
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOC.write_text(text[:start] + table + text[end:], encoding="utf-8")
    print(f"updated {DOC.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
