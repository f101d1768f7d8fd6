"""The compatibility suite users run. Its pytest plugin (options, fixtures, serving, the results recorder) is
qcompat.suite.plugin, named here so `pytest tests` loads it."""

from qcompat.suite.plugin import *
