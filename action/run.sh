#!/usr/bin/env bash
# The steps of the composite action (action.yml), one subcommand each, so that they can be run
# and tested outside GitHub (tests/test_action.py). Inputs arrive as PIM_* environment variables
# (never as ${{ }} expansions inside a script); GitHub's own variables (RUNNER_TEMP,
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ACTION_PATH, ...) as the runner sets them.
#
#   run.sh prepare   check the inputs; outputs out-dir, artifact-name, comment-marker, comment-file
#   run.sh install   a venv under $RUNNER_TEMP with pim-reconciler from the action's own checkout
#                    ($GITHUB_ACTION_PATH), a release (PIM_VERSION=0.3.1) or a git ref of the
#                    action's repository; output bin (the venv's bin folder)
#   run.sh doctor    `pim-reconciler doctor DIR --for plan|apply`: the preflight
#   run.sh matrix    for the reusable workflows: PIM_TENANTS (JSON list of names, each a folder
#                    tenants/<name>/) x PIM_SHARDS (N) -> outputs matrix and directories (JSON);
#                    PIM_READER_CLIENT_ID / PIM_WRITER_CLIENT_ID, when JSON objects, must name
#                    every tenant
#   run.sh run       the command; markdown and JSON into out-dir, the markdown to the job
#                    summary, outputs exit-code, changes, deferred, markdown-file, plan-file
#
# Exit codes of pim-reconciler (reconciler/cli/base.py): validate 0 valid / 1 invalid; plan and
# drift 0 none / 2 changes or drift / 1 error; apply 0 converged / 1 failed / 3 converged except
# deferred; report 0 / 1. A step fails only on a real error, never on "changes".
set -euo pipefail

COMMANDS="validate plan apply drift report"
DEFAULT_REPOSITORY="pim-reconciler/pim-reconciler"

# A workflow command's message escaped as the runner reads it (% CR LF), so an input that
# holds a newline cannot start a command of its own on the next line.
escape_data() { local v="${1//%/%25}"; v="${v//$'\r'/%0D}"; printf '%s' "${v//$'\n'/%0A}"; }
die() { echo "::error title=pim-reconciler action::$(escape_data "$*")"; exit 1; }

# Inputs are single-line values (names, paths, globs, refs): one holding a control character
# (a newline, a carriage return, an escape) is refused before anything prints or runs.
INPUTS="PIM_COMMAND PIM_DIRECTORY PIM_WORKING_DIRECTORY PIM_TENANT PIM_SHARD PIM_ONLY PIM_VERSION
PIM_CLIENT_ID PIM_CREDENTIAL PIM_ARTIFACT_NAME PIM_DOCTOR PIM_COMMENT PIM_ACTION_REF"
check_inputs() {
  local name value
  for name in $INPUTS; do
    value="${!name:-}"
    if [[ "$value" == *[[:cntrl:]]* ]]; then
      die "input ${name#PIM_} holds a control character (a newline?); inputs are one line each"
    fi
  done
}
output() { printf '%s=%s\n' "$1" "$2" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; }
summary() { if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >> "$GITHUB_STEP_SUMMARY"; else cat >/dev/null; fi; }
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-' | tr -s '-' | sed 's/^-//; s/-$//'; }

# Print text that came from files a pull request may have written without letting the runner
# read workflow commands (::set-env::, ::add-mask::, ...) in it.
print_untrusted() {
  local token
  token="pim-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  echo "::stop-commands::$token"
  cat "$@"
  echo "::$token::"
}

# Extra arguments: split like a shell would split words (quotes and backslashes honoured by
# xargs), but never evaluated: no expansion, no command substitution.
EXTRA=()
read_extra() {
  EXTRA=()
  if [ -n "${PIM_EXTRA_ARGS:-}" ]; then
    # xargs stops at an unmatched quote: without this check the words before it would run
    # alone (a mistyped --only='...' would plan every group).
    local words
    words=$(printf '%s' "$PIM_EXTRA_ARGS" | xargs printf '%s\n' 2>/dev/null) \
      || die "extra-args cannot be split into words (an unmatched quote?): nothing was run"
    if [ -n "$words" ]; then mapfile -t EXTRA <<< "$words"; fi
  fi
}

# The options of EXTRA that pick the target (--emulator FILE, --graph-url URL), for doctor.
target_extra() {
  TARGET=()
  local i=0 arg
  while [ "$i" -lt "${#EXTRA[@]}" ]; do
    arg="${EXTRA[$i]}"
    case "$arg" in
      --emulator=*|--graph-url=*) TARGET+=("$arg") ;;
      --emulator|--graph-url) TARGET+=("$arg" "${EXTRA[$((i + 1))]:-}"); i=$((i + 1)) ;;
    esac
    i=$((i + 1))
  done
}

# --tenant, --credential, --shard, --only: the options every tenant-reading command takes.
common_args() {
  COMMON=(--credential "${PIM_CREDENTIAL:-github-oidc}")
  if [ -n "${PIM_TENANT:-}" ]; then COMMON+=(--tenant "$PIM_TENANT"); fi
  if [ -n "${PIM_SHARD:-}" ]; then COMMON+=(--shard "$PIM_SHARD"); fi
  if [ -n "${PIM_ONLY:-}" ]; then COMMON+=(--only "$PIM_ONLY"); fi
  return 0
}

# What doctor and run share: cd to the working directory, sign-in id, a clean import path, TOOL,
# OUT, EXTRA (read_extra) and COMMON (common_args).
enter_workspace() {
  if [ -n "${PIM_WORKING_DIRECTORY:-}" ]; then cd "$PIM_WORKING_DIRECTORY"; fi
  if [ -n "${PIM_CLIENT_ID:-}" ]; then export AZURE_CLIENT_ID="$PIM_CLIENT_ID"; fi
  # The caller's files are data: nothing from the working directory or the caller's
  # environment reaches the tool's import path.
  unset PYTHONPATH PYTHONSTARTUP PYTHONHOME
  export PYTHONNOUSERSITE=1 PYTHONSAFEPATH=1
  TOOL="${PIM_BIN:?PIM_BIN (the bin output of the install step) is not set}/pim-reconciler"
  [ -x "$TOOL" ] || die "pim-reconciler is not installed in $PIM_BIN"
  OUT="${PIM_OUT:?PIM_OUT (the out-dir output of the prepare step) is not set}"
  mkdir -p "$OUT"
  read_extra
  common_args
}

# Run the tool with its markdown into $1 and its messages into $2; sets CODE. The tool's own
# job-summary writing is turned off: this script writes the summary once.
run_tool() {
  local md="$1" log="$2"
  shift 2
  # shell-quoted (printf %q): a word holding a newline shows as $'...\n...', on this one line
  printf '+ pim-reconciler'; printf ' %q' "$@"; printf '\n'
  set +e
  env -u GITHUB_STEP_SUMMARY "$TOOL" "$@" >"$md" 2>"$log"
  CODE=$?
  set -e
  print_untrusted "$md" "$log"
}

cmd_prepare() {
  local command="${PIM_COMMAND:-}" key
  case " $COMMANDS " in *" $command "*) ;; *) die "command must be one of: $COMMANDS (got '$command')" ;; esac
  [ -n "${PIM_DIRECTORY:-}" ] || die "directory is empty"
  if [ -n "${PIM_SHARD:-}" ]; then
    [[ "$PIM_SHARD" =~ ^([0-9]+)/([0-9]+)$ ]] || die "shard must look like 1/4 (got '$PIM_SHARD')"
    local i="${BASH_REMATCH[1]}" n="${BASH_REMATCH[2]}"
    { [ "$i" -ge 1 ] && [ "$i" -le "$n" ]; } || die "shard $PIM_SHARD: I must be between 1 and N"
    [ "$command" != validate ] || die "validate reads every file; shard does not apply to it"
  fi
  case "${PIM_COMMENT:-true}" in true|false) ;; *) die "comment must be true or false" ;; esac
  case "${PIM_DOCTOR:-true}" in true|false) ;; *) die "doctor must be true or false" ;; esac
  key="$(slug "$PIM_DIRECTORY")"
  if [ -n "${PIM_TENANT:-}" ]; then key="$key-$(slug "$PIM_TENANT")"; fi
  if [ -n "${PIM_SHARD:-}" ]; then key="$key-shard-${PIM_SHARD%/*}-of-${PIM_SHARD#*/}"; fi
  local out="${RUNNER_TEMP:?RUNNER_TEMP is not set}/pim-reconciler/$command-$key"
  rm -rf "$out"
  mkdir -p "$out"
  local name="${PIM_ARTIFACT_NAME:-}"
  if [ -z "$name" ]; then
    name="pim-$command-$key-$(slug "${GITHUB_JOB:-job}")-attempt-${GITHUB_RUN_ATTEMPT:-1}"
  fi
  output out-dir "$out"
  output artifact-name "$(slug "$name")"
  # One sticky comment per directory, tenant and shard: a matrix's jobs never overwrite
  # each other's plan.
  output comment-marker "<!-- pim-reconciler-comment: $key -->"
  output comment-file "$out/comment.md"
}

cmd_install() {
  local python="${PIM_PYTHON:-python3}" spec version="${PIM_VERSION:-}"
  local venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/pim-reconciler/venv"
  if [ -z "$version" ]; then
    # The action's own checkout: the ref the workflow pinned, never the calling pull request.
    spec="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
    [ -f "$spec/pyproject.toml" ] || die "no pyproject.toml in the action's checkout $spec"
    # `uses: owner/repo@ref` arrives as a tarball without .git, so setuptools-scm cannot read
    # the tag: name the version after the ref (v1.2.3 -> 1.2.3, a commit -> 0.0.0+g<sha>).
    local ref="${PIM_ACTION_REF:-}"
    if [ ! -e "$spec/.git" ] && [ -n "$ref" ]; then
      if [[ "$ref" =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)$ ]]; then
        export SETUPTOOLS_SCM_PRETEND_VERSION_FOR_PIM_RECONCILER="${BASH_REMATCH[1]}"
      elif [[ "$ref" =~ ^[0-9a-f]{7,40}$ ]]; then
        export SETUPTOOLS_SCM_PRETEND_VERSION_FOR_PIM_RECONCILER="0.0.0+g${ref:0:12}"
      fi
    fi
  elif [[ "$version" =~ ^[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$ ]]; then
    spec="pim-reconciler==$version"
  elif [[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._/-]*$ ]]; then
    # A local action (the reusable workflows check this repository out themselves) has no
    # github.action_repository: take the repository its checkout came from, so a fork or a
    # mirror installs its own code, not upstream's.
    local repo="${PIM_REPOSITORY:-}" origin
    if [ -z "$repo" ] && origin=$(git -C "${GITHUB_ACTION_PATH:-.}" config --get \
        remote.origin.url 2>/dev/null); then
      repo=$(printf '%s' "$origin" | sed -E 's#^(https?://[^/]+/|git@[^:]+:)##; s#\.git$##')
      [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || repo=""
    fi
    repo="${repo:-$DEFAULT_REPOSITORY}"
    [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "bad repository '$repo'"
    spec="git+${GITHUB_SERVER_URL:-https://github.com}/$repo@$version"
  else
    die "version must be a release (0.3.1) or a git ref (v1.2.0, a commit SHA); got '$version'"
  fi
  if [ -f "$venv/.pim-install-spec" ] && [ "$(cat "$venv/.pim-install-spec")" = "$spec" ] \
      && [ -x "$venv/bin/pim-reconciler" ]; then
    echo "pim-reconciler already installed from $spec"
  else
    echo "+ $python -m venv --clear $venv"
    "$python" -m venv --clear "$venv"
    echo "+ pip install $spec"
    (cd "$venv" && PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --no-input \
      --quiet "$spec")
    printf '%s' "$spec" > "$venv/.pim-install-spec"
  fi
  "$venv/bin/pim-reconciler" --version
  output bin "$venv/bin"
}

cmd_doctor() {
  enter_workspace
  target_extra
  local command="${PIM_COMMAND:?}"
  if ! "$TOOL" doctor --help >/dev/null 2>&1; then
    echo "::notice title=pim-reconciler doctor::this version has no doctor command; preflight skipped"
    output exit-code 0
    return 0
  fi
  # --tenant, --credential, --shard, --only as for the command: a shard checks its own groups.
  local args=(doctor "$PIM_DIRECTORY" --for "$command" --format markdown "${COMMON[@]}"
              "${TARGET[@]}")
  run_tool "$OUT/doctor.md" "$OUT/doctor.log" "${args[@]}"
  output exit-code "$CODE"
  if [ "$CODE" -eq 0 ]; then
    summary < "$OUT/doctor.md"
    return 0
  fi
  {
    echo "## ❌ pim-reconciler doctor: the preflight for \`$command\` failed (exit $CODE)"
    echo
    if [ -s "$OUT/doctor.md" ]; then cat "$OUT/doctor.md"; else fence "$OUT/doctor.log"; fi
  } > "$OUT/doctor-summary.md"
  summary < "$OUT/doctor-summary.md"
  if [ "$command" = plan ]; then comment_body "$OUT/doctor-summary.md"; fi
  die "doctor found a problem for $command (exit $CODE); nothing was planned or applied"
}

# A fenced block of a log file (for markdown), at most 200 lines.
fence() {
  echo '```text'
  head -n 200 "$1" | sed 's/```/` ` `/g'
  echo '```'
}

# The sticky comment: its marker, the markdown of $1 (cut to fit GitHub's 65,536 characters),
# a link to the run.
comment_body() {
  local run file="$PIM_OUT/comment.md"
  local marker="${PIM_COMMENT_MARKER:?PIM_COMMENT_MARKER (an output of the prepare step) is not set}"
  run="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
  {
    echo "$marker"
    if [ "$(wc -c < "$1")" -gt 60000 ]; then
      head -c 60000 "$1" | sed '$d'
      echo
      echo "_(cut to fit a comment: the whole plan is in the job summary and the artifact)_"
    else
      cat "$1"
    fi
    echo
    printf '<sub>[workflow run](%s)' "$run"
    if [ -n "${PIM_PR_HEAD_SHA:-}" ]; then printf ' · commit %s' "${PIM_PR_HEAD_SHA:0:7}"; fi
    printf '</sub>\n'
  } > "$file"
}

# "true" when the saved plan holds changes deferred by PIM's five-minute rule
# (summary.deferred, schemas/plan.schema.json).
plan_deferred() {
  [ -s "$1" ] || { echo false; return 0; }
  "$PIM_BIN/python" -c 'import json, sys
print("true" if json.load(open(sys.argv[1], encoding="utf-8"))["summary"]["deferred"] else "false")' "$1"
}

cmd_run() {
  enter_workspace
  local command="${PIM_COMMAND:?}" md="$OUT/$PIM_COMMAND.md" log="$OUT/$PIM_COMMAND.log"
  local changes=false deferred=false ok="0"
  case "$command" in
    validate)
      run_tool "$OUT/validate.txt" "$log" validate "$PIM_DIRECTORY" "${EXTRA[@]}"
      {
        if [ "$CODE" -eq 0 ]; then echo "## ✅ pim-reconciler validate: $PIM_DIRECTORY is valid"
        else echo "## ❌ pim-reconciler validate: $PIM_DIRECTORY is invalid"; fi
        echo
        cat "$OUT/validate.txt" "$log" > "$OUT/validate.all"
        fence "$OUT/validate.all"
      } > "$md"
      ;;
    plan)
      run_tool "$md" "$log" plan "$PIM_DIRECTORY" --format markdown --out "$OUT/plan.json" \
        "${COMMON[@]}" "${EXTRA[@]}"
      ok="0 2"
      [ "$CODE" -eq 2 ] && changes=true
      deferred="$(plan_deferred "$OUT/plan.json")"
      output plan-file "$OUT/plan.json"
      ;;
    apply)
      run_tool "$md" "$log" apply "$PIM_DIRECTORY" --yes --format markdown \
        --audit-log "$OUT/audit.jsonl" "${COMMON[@]}" "${EXTRA[@]}"
      ok="0 3"
      # One audit line per change outcome: a line means something was sent.
      [ -s "$OUT/audit.jsonl" ] && changes=true
      [ "$CODE" -eq 3 ] && deferred=true
      ;;
    drift)
      run_tool "$md" "$log" drift "$PIM_DIRECTORY" --format markdown "${COMMON[@]}" "${EXTRA[@]}"
      ok="0 2"
      [ "$CODE" -eq 2 ] && changes=true
      ;;
    report)
      run_tool "$md" "$log" report "$PIM_DIRECTORY" --out "$OUT/access-report" \
        --format markdown "${COMMON[@]}" "${EXTRA[@]}"
      ;;
  esac
  if [ ! -s "$md" ] || { [ "$CODE" -eq 1 ] && [ "$command" != validate ]; }; then
    # Nothing rendered (or an error after rendering): the summary says so, with the messages.
    {
      echo "## ❌ pim-reconciler $command failed (exit $CODE)"
      echo
      fence "$log"
      if [ -s "$md" ]; then echo; cat "$md"; fi
    } > "$md.tmp"
    mv "$md.tmp" "$md"
  fi
  summary < "$md"
  if [ "$command" = plan ]; then comment_body "$md"; fi
  output exit-code "$CODE"
  output changes "$changes"
  output deferred "$deferred"
  output markdown-file "$md"
  case " $ok " in
    *" $CODE "*) ;;
    *) die "pim-reconciler $command exited $CODE (see the job summary)" ;;
  esac
  if [ "$command" = apply ] && [ "$CODE" -eq 3 ]; then
    echo "::warning title=PIM apply: changes deferred::Converged except changes deferred by PIM's five-minute rule; the next scheduled run applies them."
  fi
  return 0
}

cmd_matrix() {
  PIM_TENANTS="${PIM_TENANTS:-}" PIM_SHARDS="${PIM_SHARDS:-1}" \
  PIM_DIRECTORY="${PIM_DIRECTORY:-assignments}" python3 - <<'PY' >> "${GITHUB_OUTPUT:?}"
import json, os, re, sys
def die(text):
    print(f"::error title=pim-reconciler matrix::{text}", file=sys.stderr)
    sys.exit(1)
raw, shards = os.environ["PIM_TENANTS"].strip(), os.environ["PIM_SHARDS"].strip()
try:
    names = json.loads(raw) if raw else [""]
except ValueError:
    names = None
if not (isinstance(names, list) and names and all(
        isinstance(n, str) and (n == "" and not raw or re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", n))
        for n in names)) or len(set(names)) != len(names):
    die(f'tenants must be a JSON list of distinct folder names under tenants/, e.g. ["contoso"] (got {raw!r})')
if not re.fullmatch(r"[0-9]+", shards) or not 1 <= int(shards) <= 64:
    die(f"shards must be a whole number from 1 to 64 (got {shards!r})")
n = int(shards)
# A JSON object of client ids must name every tenant: the workflows' expression would fall back
# to the whole JSON text as the client id of a tenant it lacks.
for name in ("reader-client-id", "writer-client-id"):
    ids = os.environ.get("PIM_" + name.upper().replace("-", "_"), "")
    if not ids.lstrip().startswith("{"):
        continue
    if not ids.startswith("{"):  # the expression tests startsWith(..., '{')
        die(f"{name}: a JSON object of client ids must start with {{, not with a space")
    try:
        ids = json.loads(ids)
    except ValueError as e:
        die(f"{name} starts with {{ but is not JSON: {e}")
    if not isinstance(ids, dict):
        die(f"{name} must be a client id or a JSON object {{\"<tenant>\": \"<client id>\"}}")
    if not raw:
        die(f"{name} is a JSON object of client ids per tenant, but tenants is not set")
    missing = [t for t in names if not (isinstance(ids.get(t), str) and ids[t].strip())]
    if missing:
        die(f"{name} has no client id for tenant(s) {', '.join(missing)} (keys: {sorted(ids)})")
dirs = [{"tenant": t, "directory": f"tenants/{t}" if t else os.environ["PIM_DIRECTORY"]}
        for t in names]
cells = [{**d, "shard": f"{i}/{n}" if n > 1 else ""} for d in dirs for i in range(1, n + 1)]
print("matrix=" + json.dumps({"include": cells}, separators=(",", ":")))
print("directories=" + json.dumps({"include": dirs}, separators=(",", ":")))
PY
}

check_inputs
case "${1:-}" in
  matrix) cmd_matrix ;;
  prepare) cmd_prepare ;;
  install) cmd_install ;;
  doctor) cmd_doctor ;;
  run) cmd_run ;;
  *) echo "usage: run.sh matrix|prepare|install|doctor|run" >&2; exit 2 ;;
esac
