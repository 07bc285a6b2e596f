"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = [
        line
        for block in _bash_blocks(readme)
        for line in block.splitlines()
        if line and not line.startswith("#")
    ]
    test_commands = [c for c in commands if "pytest" in c and "-m slow" not in c]
    assert len(test_commands) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_commands[0] in ci.splitlines()


def test_readme_demo_command_runs_the_demo():
    readme = (ROOT / "README.md").read_text()
    assert any(
        "diffputer demo" in line for block in _bash_blocks(readme) for line in block.splitlines()
    )
