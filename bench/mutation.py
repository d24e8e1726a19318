"""Mutation run (issue 12): mutmut over the planner and apply modules, in a throw-away copy.

    .venv/bin/python bench/mutation.py [--max-children 2] [--keep DIR] [--full-suite]

Copies the working tree (without .venv, .git, caches) to a temporary directory, writes a
`[mutmut]` section into the copy's setup.cfg, installs mutmut 3.8.1 and the dependencies the
project's venv lacks into the copy (`pip install --no-deps --target`, so the venv is left as
it is), runs `mutmut run` there and prints the score per module and every surviving mutant
with its diff. The working tree is never mutated. Each mutant runs only the fast, relevant
tests (tests/planner, tests/apply, tests/test_cases.py, tests/config/test_shared_cases.py),
or with `--full-suite` every test but tests/bench; ../shared/cases is used when present.
About 7 minutes on two cores for about 1,400 mutants. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "reconciler/plan/rules.py",
    "reconciler/plan/planner.py",
    "reconciler/plan/lifetimes.py",
    "reconciler/plan/removals.py",
    "reconciler/plan/safety.py",
    "reconciler/apply/executor.py",
]
FAST_TESTS = ["tests/planner", "tests/apply", "tests/test_cases.py",
              "tests/config/test_shared_cases.py"]
FULL_TESTS = ["tests", "--ignore=tests/bench",
              # mutmut copies reconciler/schemas (a link to ../schemas) as a directory
              "--deselect=tests/config/test_schemas.py::"
              "test_package_schemas_is_a_link_to_the_single_copy"]
# mutmut and what it needs beyond the project's own dependencies (pytest, click are there)
MUTMUT = ["mutmut==3.8.1", "libcst==1.9.0", "setproctitle==1.3.8", "textual==8.2.8",
          "coverage==7.17.5", "linkify-it-py==2.2.0", "mdit-py-plugins==0.7.0",
          "platformdirs==4.14.9"]
IGNORE = shutil.ignore_patterns(".venv", ".git", "mutants", "__pycache__", ".pytest_cache",
                                ".ruff_cache", ".hypothesis", "*.egg-info")


def _setup_cfg(tests: list[str]) -> str:
    lines = ["[mutmut]", "source_paths=reconciler", "only_mutate="]
    lines += [f"    {m}" for m in MODULES]
    lines += ["also_copy="] + [f"    {p}" for p in (
        "schemas/", "reconciler/schemas", "examples/", "docs/", "bench/", "README.md",
        ".github/", ".ci/", ".gitignore")]
    lines += ["pytest_add_cli_args_test_selection="] + [f"    {t}" for t in tests]
    lines += ["pytest_add_cli_args=", "    -p", "    no:cacheprovider", "    -q", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it")
    parser.add_argument("--full-suite", action="store_true")
    parser.add_argument("mutants", nargs="*", help="only these mutant names")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="pim-mutation-"))
    copy = work / "repo"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(ROOT, copy, ignore=IGNORE, symlinks=True)
    (copy / "setup.cfg").write_text(
        _setup_cfg(FULL_TESTS if args.full_suite else FAST_TESTS), encoding="utf-8")
    site = work / "site"
    if not (site / "mutmut").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), *MUTMUT], check=True)

    env = {**os.environ, "PYTHONPATH": str(site)}
    shared = ROOT.parent / "shared" / "cases"
    if shared.is_dir():
        env.setdefault("PIM_SHARED_CASES", str(shared))
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run", "--max-children", str(args.max_children), *args.mutants],
                   cwd=copy, env=env, stdout=subprocess.DEVNULL, check=False)
    results = subprocess.run([*mutmut, "results", "--all", "true"], cwd=copy, env=env,
                             capture_output=True, text=True, check=False).stdout

    status: dict[str, str] = {}
    for line in results.splitlines():
        found = re.match(r"\s*(\S+): (\w+)", line)
        if found:
            status[found.group(1)] = found.group(2)
    per_module: dict[str, Counter[str]] = {}
    for name, outcome in status.items():
        module = re.sub(r"\.x[_ǁ].*$", "", name)
        per_module.setdefault(module, Counter())[outcome] += 1
    print(f"{'module':34} {'killed':>6} {'survived':>8} {'other':>5} {'score':>6}")
    total: Counter[str] = Counter()
    for module, counts in sorted(per_module.items()):
        total.update(counts)
        n = sum(counts.values())
        other = n - counts["killed"] - counts["survived"]
        print(f"{module:34} {counts['killed']:6} {counts['survived']:8} {other:5} "
              f"{100 * counts['killed'] / n:5.1f}%")
    n = sum(total.values()) or 1
    print(f"{'total':34} {total['killed']:6} {total['survived']:8} "
          f"{n - total['killed'] - total['survived']:5} {100 * total['killed'] / n:5.1f}%")
    print("\nsurvivors:")
    for name, outcome in sorted(status.items()):
        if outcome == "killed":
            continue
        diff = subprocess.run([*mutmut, "show", name], cwd=copy, env=env,
                              capture_output=True, text=True, check=False).stdout
        changed = [ln for ln in diff.splitlines() if re.match(r"^[-+](?![-+])", ln)]
        print(f"### {name} ({outcome})")
        print("\n".join(changed))
    print(f"\n(work directory: {work})", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
