"""A pytest plugin (-p selftests.support.collected_order) writing the collected tests, in run order, with whether
each shares the session's kept vLLM server, to the JSON file named by QCOMPAT_COLLECTED."""

from __future__ import annotations

import json
import os
from pathlib import Path


def pytest_collection_finish(session) -> None:
    order = [{"test": item.nodeid, "kept_server": "serving" in item.fixturenames} for item in session.items]
    Path(os.environ["QCOMPAT_COLLECTED"]).write_text(json.dumps(order))
