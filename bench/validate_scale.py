"""Scale benchmark for `load_desired`: 2,000 group files x 20 assignments each.

Run: `.venv/bin/python bench/validate_scale.py [--groups N] [--per-group M]`.
Prints one JSON object: files, assignments, wall_s, cpu_s, peak_rss_mb (the default path:
libyaml's C parser when PyYAML has it, and the compiled schema validator for valid files),
and `paths`: the wall seconds of the same load by each combination of YAML parser (`c`,
`pure`) and schema check (`fast`: compiled first, `jsonschema`: jsonschema's `iter_errors`
on every file), so both paths are measured on the same files. Targets: wall_s < 5 for 2,000
files (issue 2); 20,000 entries (`--groups 1000`) in <= 0.6 s (issue 15).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.config import load_desired, schema, yamlsafe

SETTINGS = """\
tenant: contoso.onmicrosoft.com
protected: [bg-01@contoso.example]
defaults:
  renew_before: P14D
  justification: Managed by pim-reconciler
  active: { duration: P30D }
"""


def group_file(index: int, per_group: int) -> str:
    """One realistic group file: a mix of every lifetime form, principal form and section."""
    lines = [
        "# yaml-language-server: $schema=../../schemas/assignments.schema.json",
        f"group: PIM-Bench-{index:05d}",
        f"description: Benchmark group {index}",
        "mode: authoritative",
        "members:",
        "  eligible:",
    ]
    owners: list[str] = []
    for n in range(per_group):
        target = owners if n % 5 == 4 else lines
        forms = (
            f"    - principal: user{index}-{n}@contoso.example\n      duration: P180D",
            f"    - principal: {{ group: Team-{index}-{n} }}\n      until: 2027-06-30T00:00:00Z",
            f"    - principal: {{ servicePrincipal: app-{index}-{n} }}\n      permanent: true",
            f"    - principal: 00000000-0000-4000-8000-{index:06d}{n:06d}\n      duration: PT8H\n"
            "      justification: On-call cover\n"
            "      ticket: { system: ServiceNow, number: CHG-1234 }",
        )
        target.append(forms[n % 4])
    if owners:
        lines += ["owners:", "  eligible:", *owners]
    return "\n".join(lines) + "\n"


def _paths(root: Path) -> dict[str, float]:
    """Wall seconds of `load_desired(root)` per (YAML parser, schema check) combination."""
    out: dict[str, float] = {}
    default_loader, default_is_valid = yamlsafe._LOADER, schema.is_valid
    loaders = {"c": getattr(yaml, "CSafeLoader", None), "pure": yaml.SafeLoader}
    checks = {"fast": default_is_valid, "jsonschema": lambda _data, _name: False}
    try:
        for lname, loader in loaders.items():
            if loader is None:
                continue
            for cname, check in checks.items():
                yamlsafe._LOADER = loader
                schema.is_valid = check  # type: ignore[assignment]
                t0 = time.perf_counter()
                load_desired(root)
                out[f"{lname}_yaml+{cname}"] = round(time.perf_counter() - t0, 3)
    finally:
        yamlsafe._LOADER, schema.is_valid = default_loader, default_is_valid
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--per-group", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "groups").mkdir()
        (root / "pim-reconciler.yaml").write_text(SETTINGS)
        for i in range(args.groups):
            (root / "groups" / f"g{i:05d}.yaml").write_text(group_file(i, args.per_group))
        load_desired(root)  # warm: schema compilation and imports are not per-file costs
        wall0, cpu0 = time.perf_counter(), time.process_time()
        state, problems = load_desired(root)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        paths = _paths(root)
    if state is None:
        raise SystemExit(f"benchmark input did not validate: {problems[:3]}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "files": args.groups + 1,
                "assignments": sum(len(g.assignments) for g in state.groups),
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "c_yaml_available": yamlsafe._LOADER is not yaml.SafeLoader,
                "paths": paths,
            }
        )
    )


if __name__ == "__main__":
    main()
