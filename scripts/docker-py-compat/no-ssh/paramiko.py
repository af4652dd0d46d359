"""Stand-in for paramiko when it is not installed: docker-py's tests/helpers.py imports it only to check
`isinstance(sock, paramiko.Channel)`, which is never true without ssh. Put on PYTHONPATH only then."""


class Channel:
    pass
