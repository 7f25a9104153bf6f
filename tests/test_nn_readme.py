"""The README's `nn` example runs as shown and prints what its comments say."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def nn_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Neural networks: `nn`", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def expected_output(code: str) -> list[str]:
    """The whole-line comments that follow a print(...), one per printed line."""
    lines, expected, after_print = code.splitlines(), [], False
    for line in lines:
        if line.startswith("print("):
            after_print = True
        elif after_print and line.startswith("#"):
            expected.append(line[2:])
        else:
            after_print = False
    return expected


def test_the_readme_nn_example_runs_and_prints_what_it_shows(tmp_path):
    code = nn_example()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    # As a user would run it: a fresh interpreter, in a scratch folder (the example saves a file).
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert expected_output(code)  # the example does show its results
    assert run.stdout.splitlines() == expected_output(code)
    assert (tmp_path / "moons.json").exists()
