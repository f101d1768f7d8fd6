#!/usr/bin/env bash
# Prepare this machine as the qcompat Blackwell runner (ci/runner/README.md). Run as root:
#   HF_TOKEN=... QCOMPAT_CHECKPOINT=ORG/NAME@COMMIT QCOMPAT_BASE=ORG/BASE@COMMIT ci/runner/setup.sh
set -euo pipefail
RUNNER_USER=qcompat-runner
STATE=/srv/qcompat
RUNNER_HOME=/home/$RUNNER_USER

die() { echo "setup: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run as root (it creates a user and $STATE)"
: "${QCOMPAT_CHECKPOINT:?name the checkpoint to provision, ORG/NAME@COMMIT}"
: "${QCOMPAT_BASE:?name its BF16 base, ORG/BASE@COMMIT}"
command -v nvidia-smi >/dev/null || die "no nvidia-smi: install the NVIDIA driver first"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1)
[ "$cc" = "12.0" ] || echo "setup: warning: the GPU's compute capability is $cc; the card's claims are for 12.0 (sm120)" >&2

id "$RUNNER_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$RUNNER_USER"
install -d -o "$RUNNER_USER" -g "$RUNNER_USER" "$STATE" "$STATE/hf" "$STATE/uv-cache" "$RUNNER_HOME/actions-runner"
as_runner() { sudo -u "$RUNNER_USER" -H env HF_HOME="$STATE/hf" UV_CACHE_DIR="$STATE/uv-cache" PATH="$RUNNER_HOME/.local/bin:$PATH" "$@"; }

# uv for the runner user alone (its standalone installer): nothing goes into the system Python.
as_runner bash -c 'command -v uv >/dev/null || curl -LsSf https://astral.sh/uv/install.sh | sh'

# The environment every job sees (the runner reads .env from its directory).
cat >"$RUNNER_HOME/actions-runner/.env" <<ENV
HF_HOME=$STATE/hf
UV_CACHE_DIR=$STATE/uv-cache
HF_HUB_DISABLE_TELEMETRY=1
PATH=$RUNNER_HOME/.local/bin:/usr/local/bin:/usr/bin:/bin
ENV
chown "$RUNNER_USER:" "$RUNNER_HOME/actions-runner/.env"

# The checkpoint and its base at their pinned revisions; HF_TOKEN only for this, never stored.
for spec in "$QCOMPAT_CHECKPOINT" "$QCOMPAT_BASE"; do
  repo=${spec%@*} revision=${spec#*@}
  [ "$repo" != "$spec" ] || die "$spec: pin a revision, ORG/NAME@COMMIT"
  echo "setup: downloading $repo at $revision into $STATE/hf"
  as_runner env HF_TOKEN="${HF_TOKEN:-}" uvx --from huggingface_hub hf download "$repo" --revision "$revision" >/dev/null
done

# Weekly pruning of the caches, keeping the pinned revisions.
install -m 0755 "$(dirname "$0")/prune" /usr/local/bin/qcompat-prune
echo "0 5 * * 0 $RUNNER_USER HF_HOME=$STATE/hf UV_CACHE_DIR=$STATE/uv-cache PATH=$RUNNER_HOME/.local/bin:/usr/bin:/bin qcompat-prune $QCOMPAT_CHECKPOINT $QCOMPAT_BASE" \
  >/etc/cron.d/qcompat-prune

echo "setup: done. Register the runner as $RUNNER_USER in $RUNNER_HOME/actions-runner (ci/runner/README.md, step 5)."
