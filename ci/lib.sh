# shellcheck shell=bash
# Sourced by every ci/ job: strict mode, the repository root, the tools venv and the helpers the jobs share.
# CI_JOB names the job in its messages; QCOMPAT_CI_VENV overrides where the tools live (default .venv-ci).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CI_VENV="${QCOMPAT_CI_VENV:-$PWD/.venv-ci}"

say() { printf '%s: %s\n' "${CI_JOB:-ci}" "$*" >&2; }

# Appends to the job summary on GitHub, to stdout by hand.
summary() { if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >>"$GITHUB_STEP_SUMMARY"; else cat; fi; }

# nox and qcompat in a venv of their own, made by uv: never pip on the runner's system Python.
tools() {
  if [ ! -x "$CI_VENV/bin/qcompat" ]; then
    command -v uv >/dev/null || { say "uv is not on PATH: install it first (ci/runner/README.md)"; exit 2; }
    say "making the tools venv $CI_VENV (Python 3.11, nox, qcompat)"
    uv venv --quiet --python 3.11 "$CI_VENV"
    uv pip install --quiet --python "$CI_VENV/bin/python" nox -e .
  fi
  export PATH="$CI_VENV/bin:$PATH"
}

# The sessions a job's gate requires (stacks/sessions.toml), space-separated results names.
required_sessions() { python -m qcompat.env.sessions required "$1" | tr ',' ' '; }

# A GPU job never falls back to the embedded tiny checkpoint.
require_checkpoint() {
  if [ -z "${QCOMPAT_CHECKPOINT:-}" ]; then
    say "QCOMPAT_CHECKPOINT is not set: name the real checkpoint (a directory or ORG/NAME@REVISION); this job never tests the embedded tiny one"
    exit 2
  fi
}

# Preflight; where it fails, each session the job would have run is recorded as not run, with the reason.
preflight_or_not_run() {
  local out code=0
  out=$(python ci/preflight.py --base "${QCOMPAT_BASE:-}") || code=$?
  echo "$out"
  [ "$code" -eq 0 ] && return 0
  local reason
  reason=$(grep -m1 '^FAIL' <<<"$out" | sed -E 's/^FAIL +//; s/  +/: /')
  for session in "$@"; do
    qcompat record-not-run --session "$session" --reason "preflight: $reason"
  done
  # shellcheck disable=SC2016  # the backquotes are Markdown's
  { printf '### %s did not start: the runner failed its preflight\n\n```\n%s\n```\n' "$CI_JOB" "$out"; } | summary
  exit 2
}

# Runs a nox session and remembers a failing one in FAILED_SESSIONS (the gate judges their results after).
FAILED_SESSIONS=()
run_session() {
  local session="$1"; shift
  say "nox -s $session -- $*"
  nox -s "$session" -- "$@" || FAILED_SESSIONS+=("$session (exit $?)")
}

# The job's verdict: the gate's, and a session that failed without the gate seeing why is a failure too.
verdict() {
  local gate=0
  ci/report-and-gate "$@" || gate=$?
  if [ "$gate" -eq 0 ] && [ "${#FAILED_SESSIONS[@]}" -gt 0 ]; then
    say "the gate passed, but these sessions failed: ${FAILED_SESSIONS[*]}; read their logs above"
    return 1
  fi
  return "$gate"
}
