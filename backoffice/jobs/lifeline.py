"""Worker processes die with their parent: no orphaned work horse, pool member or RQ scheduler (Linux).

Every process a worker forks (a pool member, RQ's scheduler, a work horse in `--fork` mode) asks the kernel for
SIGKILL when the thread that forked it goes away (prctl PR_SET_PDEATHSIG). So a SIGKILLed worker takes its
children with it instead of leaving them re-parented to PID 1, still holding RQ's scheduler lock. An uncommitted
job dies with its transaction; reconcile re-queues the request (docs/jobs.md).
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

_installed = False
_forking_parent = None


def _remember_parent():
    global _forking_parent
    _forking_parent = os.getpid()


def die_with_parent(parent_pid=None):
    """In a freshly forked child: be killed when the parent dies; exit now if it already has (a fork race)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _after_fork_in_child():
    die_with_parent(_forking_parent)


def install():
    """From now on, every child this process forks dies with it (idempotent; a no-op off Linux)."""
    global _installed
    if _installed or not sys.platform.startswith("linux"):
        return
    os.register_at_fork(before=_remember_parent, after_in_child=_after_fork_in_child)
    _installed = True
