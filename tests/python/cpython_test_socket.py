"""CPython's own Lib/test/test_socket.py, its classes that start no threads, in a plugin and
natively, one line per test: `ID: pass|fail|error|skip [reason]`.

    cpython_test_socket LIBDIR [CLASS...]

LIBDIR holds the `test` package of a CPython installation (the machine's, never this
repository's); it is imported at run time, so what test_socket decides at import (IPv6, which
families exist) is decided with the network there. In a plugin the host mounts LIBDIR with
`--dir`; the standard-library modules the tests import are imported at build time (the test
harness passes them to `sockbox python build` as `--import`).
"""

try:
    import sockbox  # first: socket.py on sockbox (in a plugin)
except ImportError:  # natively
    sockbox = None

import importlib
import os
import sys
import sysconfig
import unittest

# sysconfig imports its data module by a computed name when first asked (test.support asks):
# ask now, at build time, so it is in the snapshot.
sysconfig.get_config_vars()


class Outcomes(unittest.TestResult):
    """Each test's outcome, in order."""

    def __init__(self):
        super().__init__()
        self.outcomes = []

    def addSuccess(self, test):
        self.outcomes.append((test.id(), "pass", ""))

    def addFailure(self, test, err):
        self.outcomes.append((test.id(), "fail", first_line(err)))

    def addError(self, test, err):
        self.outcomes.append((getattr(test, "id", lambda: str(test))(), "error", first_line(err)))

    def addSkip(self, test, reason):
        self.outcomes.append((test.id(), "skip", reason))

    def addExpectedFailure(self, test, err):
        self.outcomes.append((test.id(), "pass", "expected failure"))

    def addUnexpectedSuccess(self, test):
        self.outcomes.append((test.id(), "fail", "unexpected success"))


def first_line(err):
    kind, value, _ = err
    text = str(value).splitlines()[0] if str(value) else ""
    return f"{kind.__name__}: {text}"[:200]


def main():
    libdir, only = sys.argv[1], set(sys.argv[2:])
    sys.path.insert(0, libdir)
    # The tests make files (Unix sockets among them) in the working directory: the harness's
    # temporary directory, at the same path inside a plugin and out.
    if "TMPDIR" in os.environ:
        os.chdir(os.environ["TMPDIR"])
    # The test package's modules come from LIBDIR (computed names: nothing to import at build).
    support = importlib.import_module("test.support")
    # CPython's test suite assumes WASI has no sockets; in a sockbox plugin it has.
    support.has_socket_support = True
    test_socket = importlib.import_module("test.test_socket")
    loader = unittest.TestLoader()
    for name in sorted(dir(test_socket)):
        cls = getattr(test_socket, name)
        if (
            not isinstance(cls, type)
            or not issubclass(cls, unittest.TestCase)
            or issubclass(cls, test_socket.ThreadableTest)
            or (only and name not in only)
        ):
            continue
        result = Outcomes()
        loader.loadTestsFromTestCase(cls).run(result)
        for test_id, outcome, detail in result.outcomes:
            print(f"{test_id}: {outcome} {detail}".rstrip(), flush=True)


if sockbox is not None:
    Run = sockbox.command(main)
elif __name__ == "__main__":
    main()
