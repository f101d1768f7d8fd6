"""A floating session's install record judged by the registry: an `install` entry that applies to the newest
release on this device explains its failure; an entry that applies to a release that installed is an unexpected
pass (the index moved: a missing pin was published, say). A build ahead of the newest release (a nightly, from its
own index) did not install that release at all: the registry's install entries say nothing of it."""

from __future__ import annotations

from qcompat.env.probe import Stack, probe_name
from qcompat.registry.issues import Registry, Verdict, judge
from qcompat.upstream.floating import Installed


def install_verdicts(registry: Registry, installed: list[Installed], stack: Stack) -> list[Verdict]:
    verdicts = []
    for entry in installed:
        if entry.newest is None:
            continue
        if entry.got_newest and entry.tested != entry.newest:  # a nightly ahead of the release
            verdicts.append(Verdict("passed"))
            continue
        planned = Stack(
            packages={**stack.packages, probe_name(entry.project): entry.newest},
            cuda_runtime=stack.cuda_runtime,
            cuda_toolkit=stack.cuda_toolkit,
            gpus=stack.gpus,
            cpu=stack.cpu,
            tools=stack.tools,
        )
        expected = [issue for issue in registry.issues.values() if issue.phase == "install" and issue.applies(planned)]
        verdict = judge(expected, entry.got_newest, "install", entry.message, f"{entry.project} {entry.newest}")
        if verdict.kind == "new-failure":
            verdict = Verdict(
                "new-failure",
                signature=f"{entry.project} {entry.newest}: {entry.why}",
                message=f"{entry.line()}; no registry entry explains it",
            )
        verdicts.append(verdict)
    return verdicts
