"""Pre-forked worker processes sharing one port (the hub's and the sources').

The parent binds a socket with SO_REUSEPORT but does not listen on it (it holds the port
and resolves port 0); each worker binds its own SO_REUSEPORT socket to the same port and
listens, and the kernel spreads connections over them. The parent never imports the
Twisted reactor (an epoll set shared across fork would be shared by all workers),
restarts a worker that dies, and on SIGTERM/SIGINT asks every worker to stop.
"""
import errno
import os
import shutil
import select
import signal
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bound_socket(host, port):
    sock = socket.socket(family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listen(reactor, host, port, factory):
    """In a worker: listen on the shared port with the reactor."""
    sock = bound_socket(host, port)
    sock.listen(1024)
    sock.setblocking(False)
    listener = reactor.adoptStreamPort(sock.fileno(), family(host), factory)
    sock.close()
    return listener


class Supervisor:
    """The parent of N workers; `worker(ready_fd)` runs one (in the child) and writes b"1"
    to `ready_fd` once it listens."""

    def __init__(self, worker, workers, name="worker"):
        self.worker, self.workers, self.name = worker, workers, name
        self.children = {}  # pid -> (slot, started)
        self.stopping = False
        self.failures = 0

    def spawn(self, slot):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            code = 0
            try:
                self.worker(write_fd)
            except BaseException as exc:  # report, never unwind into the parent's code
                print("kszws %s %d failed: %s" % (self.name, slot, exc), file=sys.stderr,
                      flush=True)
                code = 2
            os._exit(code)
        os.close(write_fd)
        self.children[pid] = (slot, time.monotonic())
        return read_fd

    def wait_ready(self, fds, timeout=120):
        deadline = time.monotonic() + timeout
        pending = list(fds)
        while pending and time.monotonic() < deadline:
            ready, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
            for fd in ready:
                ok = os.read(fd, 1) == b"1"
                os.close(fd)
                pending.remove(fd)
                if not ok:
                    return False
        return not pending

    def stop(self, *_):
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, until_empty=False):
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            slot, started = self.children.pop(pid)
            if self.stopping or until_empty:
                continue
            code = os.waitstatus_to_exitcode(status)
            print("kszws %s %d (pid %d) ended (%s); restarting" % (self.name, slot, pid, code),
                  file=sys.stderr, flush=True)
            self.failures = self.failures + 1 if time.monotonic() - started < 5 else 0
            if self.failures >= 5:
                print("kszws: %ss keep failing at start; giving up" % self.name, file=sys.stderr)
                self.stop()
                return 2
            self.wait_ready([self.spawn(slot)])
        return 0

    def run(self, on_ready):
        """Start the workers, call `on_ready()` once they all listen, supervise until
        SIGTERM/SIGINT. Returns the exit code."""
        assert "twisted.internet.reactor" not in sys.modules, "the reactor must not exist before fork"
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if not self.wait_ready([self.spawn(slot) for slot in range(self.workers)]):
            self.stop()
            self.reap(until_empty=True)
            return 2
        on_ready()
        return self.reap()


def worker_signals(reactor):
    """In a worker: stop once on SIGTERM (it may come twice: from the supervisor and from a
    process-group kill); SIGINT is the supervisor's to interpret."""
    stopping = []

    def on_sigterm(*_):
        if not stopping:
            stopping.append(True)
            reactor.callFromThread(reactor.stop)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ready(fd):
    if fd is not None:
        os.write(fd, b"1")
        os.close(fd)


def shared_metrics_directory(path):
    """Make the workers about to be forked count their Prometheus metrics in files of
    `path` (prometheus_client's multiprocess mode), emptied first: /metrics sums them,
    whichever worker answers. prometheus_client decides this when it is first imported,
    so it must not be imported yet in this process."""
    assert "prometheus_client" not in sys.modules, "set before prometheus_client is imported"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def base_url(scheme, host, port):
    return "%s://%s:%d" % (scheme, host if ":" not in host else "[%s]" % host, port)
