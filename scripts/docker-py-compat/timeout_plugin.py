"""A per-test time limit for docker-py's suite when pytest-timeout is not installed.

Loaded with `-p timeout_plugin` (this directory on PYTHONPATH). Each phase of a test (setup, call,
teardown) gets DPY_TEST_TIMEOUT seconds (default 120); past that a TestTimeout is raised in the test,
so a hung request shows up as a failure of that test instead of stalling the whole run.
"""
import os
import signal

import pytest

LIMIT = int(os.environ.get('DPY_TEST_TIMEOUT', '120'))


class TestTimeout(Exception):
    pass


def _limited(phase):
    @pytest.hookimpl(hookwrapper=True)
    def hook(item, *args):
        def on_alarm(signum, frame):
            raise TestTimeout(f'{phase} took longer than {LIMIT}s')

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(LIMIT)
        try:
            yield
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return hook


pytest_runtest_setup = _limited('setup')
pytest_runtest_call = _limited('call')
pytest_runtest_teardown = _limited('teardown')
