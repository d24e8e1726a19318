"""The composite action (action.yml, action/run.sh), run as GitHub would run it: its `run:`
steps in order with bash, each step's `env:` and `if:` evaluated from the inputs and the
earlier steps' outputs, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY per step, RUNNER_TEMP and
GITHUB_ACTION_PATH set. The `uses:` steps (setup-python, github-script, upload-artifact) are not
run: their pins and resolved `with:` are checked. setup-python's interpreter is a stand-in that
records the venv and pip calls and links the real pim-reconciler of this checkout into the venv,
so the install step itself runs. The target is the emulator (`--emulator`), never a network.
Also: action.yml against the actions schema, every workflow against the workflows schema
(check-jsonschema's bundled schemas, offline); the reusable workflows' matrix step; the
github-script bodies of the sticky comment and the drift issue in Node; docs/ci.md's tables
against the declared inputs and outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent
TOOL = BIN / "pim-reconciler"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
EXAMPLE_WORKFLOWS = sorted((ROOT / "examples" / "access-repo" / ".github" / "workflows")
                           .glob("*.yml"))
OUR_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
HEAD_SHA = "0123456789abcdef0123456789abcdef01234567"


# --- a small evaluator of the GitHub expressions action.yml uses ---------------------------

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))"
                   r"|(?P<name>[A-Za-z_][\w.-]*)(?P<call>\(\))?)")


def evaluate(expr: str, lookup: Any, functions: dict[str, bool]) -> Any:
    """Evaluate a GitHub expression made of context paths, 'strings', ==, !=, !, &&, ||,
    parentheses and status functions; anything else fails the test (a new construct in
    action.yml must be taught here, not silently read as false)."""
    out, pos, expr = [], 0, expr.strip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise AssertionError(f"expression not understood at {expr[pos:]!r}")
        pos = m.end()
        if m["str"]:
            out.append(repr(m["str"][1:-1].replace("''", "'")))
        elif m["op"]:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        elif m["call"]:
            out.append(repr(functions[m["name"]]))
        else:
            out.append(f"_get({m['name']!r})")
    return eval("".join(out), {"__builtins__": {}, "_get": lookup})


def substitute(text: str, lookup: Any) -> str:
    def one(m: re.Match[str]) -> str:
        value = evaluate(m[1], lookup, {})
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(text))


@dataclass
class Run:
    outcomes: dict[str, str] = field(default_factory=dict)  # step id or name -> outcome
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    uses: dict[str, dict[str, str]] = field(default_factory=dict)  # would-run uses: steps
    logs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    action_outputs: dict[str, str] = field(default_factory=dict)


def fake_python(tmp: Path) -> tuple[Path, Path]:
    """A stand-in for setup-python's interpreter: `-m venv DIR` makes DIR/bin with this
    checkout's pim-reconciler and python linked in and a pip that records its arguments."""
    log = tmp / "install.log"
    script = tmp / "python3"
    script.write_text(f"""#!/usr/bin/env bash
echo "python $*" >> '{log}'
[ "$1 $2" = "-m venv" ] || exit 9
venv="${{@: -1}}"
mkdir -p "$venv/bin"
ln -sf '{TOOL}' "$venv/bin/pim-reconciler"
ln -sf '{BIN / "python"}' "$venv/bin/python"
printf '#!/usr/bin/env bash\\necho "pip $*" >> %s\\n' '{log}' > "$venv/bin/pip"
printf 'echo "version ${{SETUPTOOLS_SCM_PRETEND_VERSION_FOR_PIM_RECONCILER:-from git}}" >> %s\\n' \
  '{log}' >> "$venv/bin/pip"
chmod +x "$venv/bin/pip"
""")
    script.chmod(0o755)
    return script, log


def run_action(tmp: Path, inputs: dict[str, str], *, event: str = "pull_request",
               only: set[str] | None = None, action_ref: str = "",
               action_path: Path = ROOT,
               action_repository: str = "pim-reconciler/pim-reconciler") -> Run:
    """Run action.yml's steps as the runner would (see the module docstring)."""
    temp = tmp / "runner-temp"
    temp.mkdir(exist_ok=True)
    python, _log = fake_python(tmp)
    github = {"event_name": event, "token": "ghs_test_token",
              "action_repository": action_repository, "action_ref": action_ref,
              "event.pull_request.head.sha": HEAD_SHA if event == "pull_request" else ""}
    values = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values = {k: substitute(v, lambda p: github[p.removeprefix("github.")])
              for k, v in values.items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    values.update(inputs)
    run = Run()

    def lookup(path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "inputs":
            return values[rest]
        if head == "github":
            return github[rest]
        if head == "steps":
            sid, _, what = rest.partition(".")
            if what == "outcome":
                return run.outcomes.get(sid, "")
            return run.outputs.get(sid, {}).get(what.removeprefix("outputs."), "")
        raise AssertionError(f"context not known to the test: {path}")

    base_env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp), "LANG": "C.UTF-8",
                "RUNNER_TEMP": str(temp), "GITHUB_ACTION_PATH": str(action_path),
                "GITHUB_WORKSPACE": str(ROOT), "GITHUB_JOB": "pim", "GITHUB_RUN_ID": "4242",
                "GITHUB_RUN_ATTEMPT": "1", "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "contoso/access", "GITHUB_EVENT_NAME": event}
    failed = False
    for index, step in enumerate(ACTION["runs"]["steps"]):
        sid = step.get("id", f"step{index}")
        functions = {"success": not failed, "failure": failed, "always": True,
                     "cancelled": False}
        condition = str(step.get("if", "success()"))
        if not re.search(r"\b(success|failure|always|cancelled)\(\)", condition):
            condition = f"success() && ({condition})"  # GitHub's implicit status check
        if not evaluate(condition, lookup, functions) or (
                only is not None and sid not in only and "run" in step):
            run.outcomes[sid] = "skipped"
            continue
        if "uses" in step:
            run.uses[sid] = {k: substitute(v, lookup) for k, v in step.get("with", {}).items()}
            run.outcomes[sid] = "success"
            if sid == "python":  # setup-python's output, from the stand-in interpreter
                run.outputs[sid] = {"python-path": str(python)}
            continue
        assert step["shell"] == "bash"
        out_file, summary_file = tmp / f"{sid}.out", tmp / f"{sid}.summary"
        out_file.write_text(""), summary_file.write_text("")
        env = {**base_env, "GITHUB_OUTPUT": str(out_file),
               "GITHUB_STEP_SUMMARY": str(summary_file)}
        env.update({k: substitute(v, lookup) for k, v in step.get("env", {}).items()})
        script = tmp / f"{sid}.sh"
        script.write_text(step["run"])
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        run.logs[sid] = done.stdout + done.stderr
        run.outcomes[sid] = "success" if done.returncode == 0 else "failure"
        failed = failed or done.returncode != 0
        run.outputs[sid] = dict(line.split("=", 1) for line in out_file.read_text().splitlines())
        run.summary += summary_file.read_text()
    run.action_outputs = {k: substitute(v["value"], lookup) for k, v in ACTION["outputs"].items()}
    return run


# --- the runs ------------------------------------------------------------------------------

def test_plan_on_a_pull_request_against_the_emulator(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "plan", "directory": "examples/assignments",
                                "extra-args": "--emulator examples/tenant.yaml"})
    assert run.outcomes["prepare"] == run.outcomes["install"] == "success", run.logs
    # The install step made a venv under RUNNER_TEMP and installed the action's own checkout.
    install_log = (tmp_path / "install.log").read_text().splitlines()
    venv = tmp_path / "runner-temp" / "pim-reconciler" / "venv"
    assert install_log == [f"python -m venv --clear {venv}",
                           f"pip install --no-input --quiet {ROOT}", "version from git"]
    assert run.outputs["install"]["bin"] == str(venv / "bin")

    # The preflight passes on the example tenant and its report goes to the summary.
    assert run.outcomes["doctor"] == "success", run.logs["doctor"]
    doctor_md = (Path(run.outputs["prepare"]["out-dir"]) / "doctor.md").read_text()
    assert doctor_md.strip() and doctor_md in run.summary
    assert "no doctor command" not in run.logs["doctor"]

    assert run.outcomes["run"] == "success", run.logs["run"]  # exit 2 is not a failure
    out = Path(run.action_outputs["output-dir"])
    plan = json.loads((out / "plan.json").read_text())
    markdown = (out / "plan.md").read_text()
    assert run.action_outputs["exit-code"] == "2"
    assert run.action_outputs["changes"] == "true"
    assert run.action_outputs["deferred"] == ("true" if plan["summary"]["deferred"] else "false")
    assert plan["summary"]["deferred"] == 1  # the example tenant holds one deferred change
    assert run.action_outputs["plan-file"] == str(out / "plan.json")
    # The summary holds the plan's markdown exactly once (the tool's own summary writing off).
    s = plan["summary"]
    row = f"| {s['create']} | {s['renew']} | {s['update']} | {s['remove']} | {s['deferred']} |"
    assert markdown.startswith("<!-- pim-reconciler-plan -->\n## PIM plan for contoso.")
    assert row in markdown and "PIM-Database-Owners" in markdown
    assert run.summary.count(markdown) == 1 and run.summary.count("## PIM plan for") == 1
    # The comment body: our marker first, then the plan, then the run link and the PR commit.
    body = (out / "comment.md").read_text()
    marker = "<!-- pim-reconciler-comment: examples-assignments -->"
    assert run.outputs["prepare"]["comment-marker"] == marker
    assert body.startswith(marker + "\n" + markdown)
    assert body.rstrip().endswith("[workflow run](https://github.com/contoso/access/actions/"
                                  f"runs/4242) · commit {HEAD_SHA[:7]}</sub>")
    # The uses: steps that would run, with what they are given.
    assert set(run.uses) == {"python", "comment", "upload"}
    assert run.uses["python"] == {"python-version": "3.11", "update-environment": "false"}
    assert run.uses["comment"]["github-token"] == "ghs_test_token"
    assert run.uses["upload"] == {"name": "pim-plan-examples-assignments-pim-attempt-1",
                                 "path": str(out), "if-no-files-found": "ignore",
                                 "retention-days": "30"}


def test_validate_of_an_invalid_directory_fails_the_step(tmp_path: Path) -> None:
    bad = tmp_path / "access"
    shutil.copytree(ROOT / "examples" / "access-repo" / "assignments", bad)
    (bad / "groups" / "broken.yaml").write_text("group: PIM-Network-Ops\nmembers: {eligible: 3}\n")
    run = run_action(tmp_path, {"command": "validate", "directory": str(bad)}, event="push")
    assert run.outcomes["run"] == "failure"
    assert run.outcomes["doctor"] == "skipped"  # doctor runs before plan and apply only
    assert run.action_outputs["exit-code"] == "1"
    assert run.action_outputs["changes"] == "false"
    assert f"## ❌ pim-reconciler validate: {bad} is invalid" in run.summary
    assert "broken.yaml" in run.summary
    assert "::error title=pim-reconciler action::pim-reconciler validate exited 1" \
        in run.logs["run"]
    assert "comment" not in run.uses  # no PR comment outside plan on a pull request
    assert "upload" in run.uses  # the output folder is uploaded all the same


def test_validate_of_the_example_access_repository(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "validate",
                                "directory": "examples/access-repo/assignments"}, event="push")
    assert run.outcomes["run"] == "success", run.logs["run"]
    assert run.action_outputs["exit-code"] == "0"
    assert "## ✅ pim-reconciler validate: examples/access-repo/assignments is valid" \
        in run.summary


def test_apply_against_a_copy_of_the_emulator_tenant(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant.yaml"
    shutil.copy(ROOT / "examples" / "tenant.yaml", tenant)
    run = run_action(tmp_path, {"command": "apply", "directory": "examples/assignments",
                                "extra-args": f"--emulator {tenant}"}, event="schedule")
    assert run.outcomes["run"] == "success", run.logs["run"]
    out = Path(run.action_outputs["output-dir"])
    audit = [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]
    outcomes = [entry["outcome"] for entry in audit]
    assert set(outcomes) == {"applied", "deferred"} and outcomes.count("deferred") == 1
    assert run.action_outputs["changes"] == "true"
    # The summary's count line agrees with the audit log, line for line.
    assert (f"Apply: {outcomes.count('applied')} applied, 1 deferred, 0 failed"
            in run.summary)
    # One change of the example tenant is held back by PIM's five-minute rule: exit 3.
    assert run.action_outputs["exit-code"] == "3"
    assert run.action_outputs["deferred"] == "true"
    assert "::warning title=PIM apply: changes deferred::" in run.logs["run"]
    assert (out / "apply.md").read_text() in run.summary
    assert not (out / "comment.md").exists()


def test_bad_inputs_stop_before_anything_runs(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "destroy"})
    assert run.outcomes["prepare"] == "failure"
    assert "command must be one of: validate plan apply drift report (got 'destroy')" \
        in run.logs["prepare"]
    assert [run.outcomes[s] for s in ("install", "doctor", "run")] == ["skipped"] * 3
    assert run.uses == {}  # nor comment, nor upload, nor setup-python
    run = run_action(tmp_path, {"command": "plan", "shard": "5/4"}, only={"prepare"})
    assert "shard 5/4: I must be between 1 and N" in run.logs["prepare"]


def test_shards_and_tenants_get_their_own_comment_and_artifact(tmp_path: Path) -> None:
    seen = set()
    for shard in ("1/2", "2/2"):
        run = run_action(tmp_path, {"command": "plan", "directory": "tenants/contoso",
                                    "tenant": "contoso.onmicrosoft.com", "shard": shard},
                         only={"prepare"})
        p = run.outputs["prepare"]
        seen.add((p["comment-marker"], p["artifact-name"], p["out-dir"]))
    assert {m for m, _, _ in seen} == {
        "<!-- pim-reconciler-comment: tenants-contoso-contoso.onmicrosoft.com-shard-1-of-2 -->",
        "<!-- pim-reconciler-comment: tenants-contoso-contoso.onmicrosoft.com-shard-2-of-2 -->"}
    assert len({a for _, a, _ in seen}) == len({o for _, _, o in seen}) == 2


@pytest.mark.parametrize(("version", "spec"), [
    ("0.3.1", "pim-reconciler==0.3.1"),
    ("1.0.0rc2", "pim-reconciler==1.0.0rc2"),
    ("v1.2.0", "git+https://github.com/pim-reconciler/pim-reconciler@v1.2.0"),
    (HEAD_SHA, f"git+https://github.com/pim-reconciler/pim-reconciler@{HEAD_SHA}"),
    ("1.0; curl evil", None),
])
def test_install_takes_a_release_or_a_git_ref(tmp_path: Path, version: str,
                                             spec: str | None) -> None:
    run = run_action(tmp_path, {"command": "validate", "version": version},
                     only={"prepare", "install"})
    log = tmp_path / "install.log"
    if spec is None:
        assert run.outcomes["install"] == "failure" and not log.exists()
        assert "version must be a release (0.3.1) or a git ref" in run.logs["install"]
    else:
        assert run.outcomes["install"] == "success", run.logs["install"]
        assert log.read_text().splitlines()[-2] == f"pip install --no-input --quiet {spec}"


@pytest.mark.parametrize(("ref", "version"), [
    ("v1.4.2", "1.4.2"),
    ("0123456789abcdef0123456789abcdef01234567", "0.0.0+g0123456789ab"),
    ("main", "from git"),  # a branch: setuptools-scm's fallback (0.0.0)
])
def test_a_downloaded_action_names_its_version_after_its_ref(tmp_path: Path, ref: str,
                                                             version: str) -> None:
    """`uses: owner/repo@ref` arrives without .git: the version comes from the ref."""
    action = tmp_path / "action-download"
    (action / "action").mkdir(parents=True)
    shutil.copy2(ROOT / "pyproject.toml", action / "pyproject.toml")
    shutil.copy2(ROOT / "action" / "run.sh", action / "action" / "run.sh")
    run = run_action(tmp_path, {"command": "validate"}, only={"prepare", "install"},
                     action_ref=ref, action_path=action)
    assert run.outcomes["install"] == "success", run.logs["install"]
    lines = (tmp_path / "install.log").read_text().splitlines()
    assert lines[-2:] == [f"pip install --no-input --quiet {action}", f"version {version}"]


def test_the_action_checkout_with_git_keeps_the_scm_version(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "validate"}, only={"prepare", "install"},
                     action_ref="v1.4.2")  # the repository root has .git
    assert run.outcomes["install"] == "success", run.logs["install"]
    assert (tmp_path / "install.log").read_text().splitlines()[-1] == "version from git"


def test_the_extra_args_are_split_not_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    run = run_action(tmp_path, {"command": "validate", "directory": "examples/assignments",
                                "extra-args": f"--format json $(touch {marker})"},
                     event="push")
    assert not marker.exists()
    assert run.action_outputs["exit-code"] == "1"  # `$(touch ...)` reached the tool as a word
    assert f"Got unexpected extra arguments ($(touch {marker}))" in run.summary


def test_an_unmatched_quote_in_extra_args_runs_nothing(tmp_path: Path) -> None:
    """xargs stopped at the quote and the words before it ran alone: a mistyped --only planned
    every group, and the step passed."""
    run = run_action(tmp_path, {"command": "plan", "directory": "examples/assignments",
                                "doctor": "false", "comment": "false",
                                "extra-args": "--emulator examples/tenant.yaml "
                                              "--only='groups/app-*.yaml"})
    assert run.outcomes["run"] == "failure"
    assert run.logs["run"].strip().splitlines()[-1] == (
        "::error title=pim-reconciler action::extra-args cannot be split into words (an "
        "unmatched quote?): nothing was run")
    assert "+ pim-reconciler" not in run.logs["run"]
    assert run.action_outputs["changes"] == "false"


@pytest.mark.parametrize("name", ["command", "directory", "tenant", "shard", "only", "version"])
def test_an_input_holding_a_newline_cannot_issue_workflow_commands(tmp_path: Path,
                                                                    name: str) -> None:
    """Printed raw (the `+ pim-reconciler ...` line, an error naming the input), a newline in an
    input let the next line be read as a workflow command by the runner."""
    inputs = {"command": "plan", "directory": "examples/assignments", "doctor": "false",
              "comment": "false", "extra-args": "--emulator examples/tenant.yaml"}
    inputs[name] = inputs.get(name, "x") + "\n::warning::INJECTED"
    run = run_action(tmp_path, inputs)
    assert "failure" in run.outcomes.values()
    everything = "\n".join(run.logs.values()) + run.summary
    assert not any(line.startswith("::warning::") for line in everything.splitlines())
    first = next(log for log in run.logs.values() if "::error" in log)
    assert (f"::error title=pim-reconciler action::input {name.upper()} holds a control "
            "character (a newline?); inputs are one line each") in first


def test_the_command_line_shown_is_shell_quoted(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "validate", "directory": "examples/assignments",
                                "extra-args": "--format 'json'"}, event="push")
    shown = [line for line in run.logs["run"].splitlines() if line.startswith("+ ")]
    assert shown == ["+ pim-reconciler validate examples/assignments --format json"]


def test_error_messages_escape_what_the_runner_would_read() -> None:
    script = f'source <(sed -n "/^escape_data()/p" {ROOT / "action" / "run.sh"}); ' \
             'escape_data $\'50% done\r\n::warning::x\''
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "50%25 done%0D%0A::warning::x"


def test_every_uses_of_the_action_is_pinned_by_sha_with_its_version() -> None:
    text = (ROOT / "action.yml").read_text()
    pins = re.findall(r"^\s+uses: (\S+) # (v\d+\.\d+\.\d+)$", text, re.M)
    assert len(pins) == len(re.findall(r"^\s+uses:", text, re.M)) == 3
    assert all(PINNED.match(ref) for ref, _ in pins), pins
    # the same pins as the workflows use (one version of each action in the repository)
    workflows = "".join(p.read_text() for p in OUR_WORKFLOWS)
    assert all(f"{ref} # {version}" in workflows for ref, version in pins), pins


def test_no_template_expansion_inside_a_run_script() -> None:
    runs = [s["run"] for s in ACTION["runs"]["steps"] if "run" in s]
    assert runs and all("${{" not in r for r in runs)
    assert all(r.startswith('bash "$GITHUB_ACTION_PATH/action/run.sh" ') for r in runs)


# --- schemas -------------------------------------------------------------------------------

def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    if found is None:
        assert os.environ.get("CI") != "true", "check-jsonschema is required under CI=true"
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return found


def test_the_action_passes_the_actions_schema() -> None:
    done = subprocess.run([_check_jsonschema(), "--no-cache", "--builtin-schema",
                           "vendor.github-actions", str(ROOT / "action.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_workflow_passes_the_workflows_schema() -> None:
    assert EXAMPLE_WORKFLOWS and OUR_WORKFLOWS
    done = subprocess.run([_check_jsonschema(), "--no-cache", "--builtin-schema",
                           "vendor.github-workflows",
                           *map(str, OUR_WORKFLOWS + EXAMPLE_WORKFLOWS)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


NODE = shutil.which("node")
MARKER = "<!-- pim-reconciler-comment: assignments -->"


def run_comment_script(tmp: Path, comments: list[dict[str, Any]],
                       author: str = "github-actions[bot]") -> list[list[Any]]:
    """Run the comment step's github-script body in Node with a recording stand-in for its
    `github` client; the calls it made (update / create), in order."""
    if NODE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required in CI (.ci/run installs nodejs)")
        pytest.skip("node is not installed")
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "comment")
    body = tmp / "comment.md"
    body.write_text(f"{MARKER}\n## PIM plan\nnew plan\n")
    harness = tmp / "harness.js"
    harness.write_text(f"""
const calls = [];
const comments = {json.dumps(comments)};
const github = {{
  paginate: async (fn, args) => {{ calls.push(['list', args.issue_number]); return comments; }},
  rest: {{ issues: {{
    listComments: 'listComments',
    updateComment: async (a) => {{ calls.push(['update', a.comment_id, a.body]); }},
    createComment: async (a) => {{
      calls.push(['create', a.issue_number, a.body]); return {{ data: {{ html_url: 'x' }} }}; }},
  }} }},
}};
const context = {{ repo: {{ owner: 'contoso', repo: 'access' }},
                   payload: {{ pull_request: {{ number: 7 }} }} }};
const core = {{ info: () => {{}} }};
(async () => {{
{step["with"]["script"]}
}})().then(() => console.log(JSON.stringify(calls)),
           (e) => {{ console.error(e); process.exit(1); }});
""")
    env = {**os.environ, "COMMENT_FILE": str(body), "COMMENT_MARKER": MARKER,
           "COMMENT_AUTHOR": author}
    done = subprocess.run([NODE, str(harness)], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


NEW_BODY = f"{MARKER}\n## PIM plan\nnew plan\n"


def test_the_sticky_comment_is_ours_only(tmp_path: Path) -> None:
    """Anyone may post a comment that starts with the marker; only the bot's is updated."""
    comments = [
        {"id": 1, "user": {"login": "mallory"}, "body": f"{MARKER}\n## PIM plan\nNo changes."},
        {"id": 2, "user": {"login": "github-actions[bot]"}, "body": f"> {MARKER}\nquoted"},
        {"id": 3, "user": {"login": "github-actions[bot]"}, "body": f"{MARKER}\nold plan"},
    ]
    assert run_comment_script(tmp_path, comments) == [["list", 7], ["update", 3, NEW_BODY]]


def test_a_marker_posted_by_someone_else_gets_a_comment_of_our_own(tmp_path: Path) -> None:
    comments = [{"id": 1, "user": {"login": "mallory"}, "body": f"{MARKER}\nNo changes."},
                {"id": 2, "user": None, "body": f"{MARKER}\nghost"}]
    assert run_comment_script(tmp_path, comments) == [["list", 7], ["create", 7, NEW_BODY]]


def test_the_comment_author_input_names_another_token_login(tmp_path: Path) -> None:
    comments = [{"id": 5, "user": {"login": "github-actions[bot]"}, "body": f"{MARKER}\nold"},
                {"id": 6, "user": {"login": "pim-bot[bot]"}, "body": f"{MARKER}\nold"}]
    assert run_comment_script(tmp_path, comments, author="pim-bot[bot]") == [
        ["list", 7], ["update", 6, NEW_BODY]]


@pytest.mark.parametrize(("origin", "repository"), [
    ("https://github.com/contoso-fork/pim-reconciler", "contoso-fork/pim-reconciler"),
    ("https://github.com/contoso-fork/pim-reconciler.git", "contoso-fork/pim-reconciler"),
    ("/some/local/path", "pim-reconciler/pim-reconciler"),  # not owner/repo: the default
])
def test_a_local_action_installs_a_git_ref_from_its_own_repository(
        tmp_path: Path, origin: str, repository: str) -> None:
    """The reusable workflows run the action from their own checkout (`uses: ./...`), where
    github.action_repository is empty: a fork's `version: <ref>` must come from the fork."""
    action = tmp_path / "checkout"
    (action / "action").mkdir(parents=True)
    shutil.copy2(ROOT / "action" / "run.sh", action / "action" / "run.sh")
    subprocess.run(["git", "init", "-q", str(action)], check=True)
    subprocess.run(["git", "-C", str(action), "remote", "add", "origin", origin], check=True)
    run = run_action(tmp_path, {"command": "validate", "version": "v1.2.0"},
                     only={"prepare", "install"}, action_path=action, action_repository="")
    assert run.outcomes["install"] == "success", run.logs["install"]
    lines = (tmp_path / "install.log").read_text().splitlines()
    assert lines[-2] == f"pip install --no-input --quiet git+https://github.com/{repository}@v1.2.0"


def test_doctor_checks_the_same_shard_and_groups_as_the_command(tmp_path: Path) -> None:
    run = run_action(tmp_path, {"command": "plan", "directory": "examples/assignments",
                                "shard": "2/2", "only": "groups/*", "comment": "false",
                                "extra-args": "--emulator examples/tenant.yaml"})
    shown = {sid: [line for line in log.splitlines() if line.startswith("+ pim-reconciler")]
             for sid, log in run.logs.items() if sid in ("doctor", "run")}
    assert shown["doctor"] == [
        "+ pim-reconciler doctor examples/assignments --for plan --format markdown "
        "--credential github-oidc "
        "--shard 2/2 --only groups/\\* --emulator examples/tenant.yaml"]
    assert "--shard 2/2 --only groups/\\*" in shown["run"][0]
    assert run.outcomes["doctor"] == "success", run.logs["doctor"]


# --- the reusable workflows' matrix step (run.sh matrix) -----------------------------------

def run_matrix(tmp: Path, workflow: str, inputs: dict[str, str]) -> tuple[int, dict, str]:
    """Run the `matrix` step of a reusable workflow with its `env:` resolved from the given
    `workflow_call` inputs (the rest at their defaults): exit code, outputs, stderr."""
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text(encoding="utf-8"))
    declared = doc[True]["workflow_call"]["inputs"]
    assert set(inputs) <= set(declared), set(inputs) - set(declared)
    values = {k: str(v.get("default", "")) for k, v in declared.items()} | inputs
    step = next(s for s in doc["jobs"]["matrix"]["steps"] if s.get("id") == "matrix")
    (tmp / ".pim-reconciler-action").symlink_to(ROOT)
    out = tmp / "matrix.out"
    out.write_text("")
    env = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(out)}
    env |= {k: substitute(v, lambda p: values[p.removeprefix("inputs.")])
            for k, v in step["env"].items()}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=30)
    outputs = {k: json.loads(v) for k, v in
               (line.split("=", 1) for line in out.read_text().splitlines())}
    return done.returncode, outputs, done.stderr


@pytest.mark.parametrize("workflow", ["pim-plan.yml", "pim-apply.yml", "pim-drift.yml"])
def test_the_matrix_is_one_cell_by_default(tmp_path: Path, workflow: str) -> None:
    ids = {"reader-client-id": "r-id", "writer-client-id": "w-id"}
    if workflow != "pim-apply.yml":
        del ids["writer-client-id"]
    code, outputs, err = run_matrix(tmp_path, workflow, ids)
    assert code == 0, err
    assert outputs["matrix"] == {"include": [{"tenant": "", "directory": "assignments",
                                              "shard": ""}]}
    if workflow == "pim-plan.yml":
        assert outputs["directories"] == {"include": [{"tenant": "",
                                                       "directory": "assignments"}]}


def test_the_matrix_is_tenants_times_shards(tmp_path: Path) -> None:
    code, outputs, err = run_matrix(tmp_path, "pim-apply.yml", {
        "tenants": '["contoso", "fabrikam"]', "shards": "2",
        "reader-client-id": '{"contoso": "r1", "fabrikam": "r2"}',
        "writer-client-id": '{"contoso": "w1", "fabrikam": "w2"}'})
    assert code == 0, err
    assert outputs["matrix"]["include"] == [
        {"tenant": t, "directory": f"tenants/{t}", "shard": s}
        for t in ("contoso", "fabrikam") for s in ("1/2", "2/2")]
    assert outputs["directories"]["include"] == [
        {"tenant": t, "directory": f"tenants/{t}"} for t in ("contoso", "fabrikam")]


@pytest.mark.parametrize(("inputs", "error"), [
    ({"tenants": '["contoso","fabrikam"]', "writer-client-id": '{"contoso": "w1"}'},
     "writer-client-id has no client id for tenant(s) fabrikam (keys: ['contoso'])"),
    ({"writer-client-id": '{"contoso": "w1"}'},
     "writer-client-id is a JSON object of client ids per tenant, but tenants is not set"),
    ({"tenants": '["contoso"]', "reader-client-id": '{"contoso": "r1",}'},
     "reader-client-id starts with { but is not JSON: "),
    ({"tenants": '["contoso"]', "reader-client-id": ' {"contoso": "r1"}'},
     "reader-client-id: a JSON object of client ids must start with {, not with a space"),
    ({"tenants": "contoso"},
     "tenants must be a JSON list of distinct folder names under tenants/"),
    ({"tenants": '["../x"]'},
     "tenants must be a JSON list of distinct folder names under tenants/"),
    ({"tenants": '[".."]'},  # tenants/.. would be the repository root
     "tenants must be a JSON list of distinct folder names under tenants/"),
    ({"tenants": '["contoso","contoso"]'},
     "tenants must be a JSON list of distinct folder names under tenants/"),
    ({"shards": "0"}, "shards must be a whole number from 1 to 64 (got '0')"),
])
def test_a_bad_matrix_input_is_one_error_line(tmp_path: Path, inputs: dict[str, str],
                                              error: str) -> None:
    """A client-id object without a tenant would have fallen back to the whole JSON text as
    that tenant's client id, failing later at sign-in with no word about the input."""
    code, outputs, err = run_matrix(tmp_path, "pim-apply.yml", {
        "reader-client-id": "r-id", "writer-client-id": "w-id", **inputs})
    assert code == 1 and outputs == {}
    [line] = err.splitlines()
    assert line.startswith(f"::error title=pim-reconciler matrix::{error}"), line


# --- docs/ci.md against action.yml and the reusable workflows ------------------------------

DOCS = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def _documented(section: str) -> set[str]:
    """The backquoted names in the first column of the tables under a docs/ci.md heading."""
    text = DOCS.split(section, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`([\w-]+)`", cell)}


def test_docs_list_every_input_and_output_of_the_action() -> None:
    documented = _documented("### The action in your own workflow")
    assert documented == set(ACTION["inputs"]) | set(ACTION["outputs"])


def test_docs_list_every_input_of_the_reusable_workflows() -> None:
    declared = set()
    for name in ("pim-plan.yml", "pim-apply.yml", "pim-drift.yml"):
        doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
        declared |= set(doc[True]["workflow_call"]["inputs"])
    assert _documented("### Inputs of the reusable workflows") == declared


# --- the drift issue step of pim-drift.yml -------------------------------------------------

DRIFT_WHERE = "assignments 1/2"
DRIFT_MARK = f"<!-- pim-reconciler-drift-issue: {DRIFT_WHERE} -->"


def run_drift_issue_script(tmp: Path, issues: list[dict[str, Any]], *, changes: bool,
                           label_status: int | None = None) -> list[list[Any]]:
    """Run the drift issue step's github-script body in Node with a recording stand-in for
    `github`; the calls it made, in order. label_status: createLabel fails with that status."""
    if NODE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is required in CI (.ci/run installs nodejs)")
        pytest.skip("node is not installed")
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "pim-drift.yml").read_text(
        encoding="utf-8"))
    step = next(s for s in doc["jobs"]["drift"]["steps"]
                if s.get("name") == "Open, update or close the drift issue")
    assert step["env"]["DRIFT_FILE"] == "${{ steps.drift.outputs.markdown-file }}"
    assert step["env"]["DRIFT_CHANGES"] == "${{ steps.drift.outputs.changes }}"
    drift = tmp / "drift.md"
    drift.write_text("<!-- pim-reconciler-drift -->\n## PIM drift report\n")
    harness = tmp / "drift-harness.js"
    harness.write_text(f"""
const calls = [];
const issues = {json.dumps(issues)};
const labelStatus = {json.dumps(label_status)};
const github = {{
  paginate: async (fn, args) => {{ calls.push(['list', args.state, args.labels]); return issues; }},
  rest: {{ issues: {{
    listForRepo: 'listForRepo',
    update: async (a) => {{ calls.push(['update', a.issue_number, a.body || a.state]); }},
    createLabel: async (a) => {{
      calls.push(['label', a.name]);
      if (labelStatus) {{ const e = new Error('label'); e.status = labelStatus; throw e; }} }},
    create: async (a) => {{
      calls.push(['create', a.title, a.labels, a.body]); return {{ data: {{ number: 9 }} }}; }},
    createComment: async (a) => {{ calls.push(['comment', a.issue_number, a.body]); }},
  }} }},
}};
const context = {{ repo: {{ owner: 'contoso', repo: 'access' }}, serverUrl: 'https://github.com',
                   runId: 4242 }};
const core = {{ notice: () => {{}} }};
(async () => {{
{step["with"]["script"]}
}})().then(() => console.log(JSON.stringify(calls)),
           (e) => {{ console.error('FAILED ' + e.message); process.exit(1); }});
""")
    env = {**os.environ, "DRIFT_FILE": str(drift), "DRIFT_CHANGES": str(changes).lower(),
           "DRIFT_WHERE": DRIFT_WHERE + " "}  # `${{ directory }} ${{ shard }}`, shard maybe empty
    done = subprocess.run([NODE, str(harness)], env=env, capture_output=True, text=True,
                          timeout=30)
    if done.returncode:
        return [["failed", done.stderr.strip()]]
    return json.loads(done.stdout)


RUN_LINK = "<sub>[workflow run](https://github.com/contoso/access/actions/runs/4242)</sub>\n"
DRIFT_BODY = f"{DRIFT_MARK}\n<!-- pim-reconciler-drift -->\n## PIM drift report\n\n{RUN_LINK}"
OTHERS = [{"number": 1, "body": f"{DRIFT_MARK}\nfrom a PR", "pull_request": {}},
          {"number": 2, "body": "<!-- pim-reconciler-drift-issue: assignments 2/2 -->\nx"}]


def test_drift_opens_a_labelled_issue_when_there_is_none(tmp_path: Path) -> None:
    calls = run_drift_issue_script(tmp_path, OTHERS, changes=True)
    assert calls == [["list", "open", "pim-drift"], ["label", "pim-drift"],
                     ["create", f"PIM drift in {DRIFT_WHERE}: live state departs from the files",
                      ["pim-drift"], DRIFT_BODY]]


def test_drift_updates_the_issue_of_its_own_directory_and_shard(tmp_path: Path) -> None:
    issues = [*OTHERS, {"number": 3, "body": f"{DRIFT_MARK}\nold report"}]
    calls = run_drift_issue_script(tmp_path, issues, changes=True)
    assert calls == [["list", "open", "pim-drift"], ["update", 3, DRIFT_BODY]]


def test_no_drift_closes_the_issue_with_a_comment(tmp_path: Path) -> None:
    issues = [*OTHERS, {"number": 3, "body": f"{DRIFT_MARK}\nold report"}]
    calls = run_drift_issue_script(tmp_path, issues, changes=False)
    assert calls == [["list", "open", "pim-drift"],
                     ["comment", 3, "No drift any more ([workflow run](https://github.com/"
                                    "contoso/access/actions/runs/4242)). Closing."],
                     ["update", 3, "closed"]]
    assert run_drift_issue_script(tmp_path, OTHERS, changes=False) == [
        ["list", "open", "pim-drift"]]


def test_an_existing_label_is_no_error_but_another_failure_is(tmp_path: Path) -> None:
    calls = run_drift_issue_script(tmp_path, [], changes=True, label_status=422)
    assert [c[0] for c in calls] == ["list", "label", "create"]
    assert run_drift_issue_script(tmp_path, [], changes=True, label_status=403) == [
        ["failed", "FAILED label"]]
