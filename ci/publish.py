"""Publish a gated checkpoint revision: tag it on the Hub (run only after the release gate passed).

    QCOMPAT_CHECKPOINT=ORG/NAME@COMMIT RELEASE_TAG=v1.1 HF_TOKEN=... python ci/publish.py

The revision must be a full commit, the one the gate tested; a branch name could move in between.
"""

from __future__ import annotations

import os
import sys

from qcompat.checkpoint.hub import COMMIT, hub_errors, split_spec
from qcompat.errors import QcompatError


def main() -> int:
    missing = [name for name in ("QCOMPAT_CHECKPOINT", "RELEASE_TAG", "HF_TOKEN") if not os.environ.get(name)]
    if missing:
        print(f"publish: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    spec, tag = os.environ["QCOMPAT_CHECKPOINT"], os.environ["RELEASE_TAG"]
    try:
        repo, revision = split_spec(spec)
        if not revision or not COMMIT.match(revision):
            print(
                f"publish: {spec}: name the gated revision as a full 40-hex commit (ORG/NAME@COMMIT)", file=sys.stderr
            )
            return 2
        from huggingface_hub import HfApi

        with hub_errors(spec):
            HfApi().create_tag(repo, tag=tag, revision=revision, tag_message=f"gated by qcompat: {spec}")
    except QcompatError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 2
    print(f"publish: tagged {repo}@{revision} as {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
