"""Signals during a run: SIGTERM as an interrupt, interrupts dropped where their handler ran
raised again, and blocks that Ctrl-C must not cut in half."""

import contextlib
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, Kubernetes, Slurm) as an interrupt, so that it is handled as Ctrl-C is."""

    signum = signal.SIGTERM


def _set_handlers(handlers):
    """Install {signal: handler}; returns the previous ones. Only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, h if h is not None else signal.SIG_DFL) for s, h in handlers.items()}


_pending_interrupts = []  # interrupts raised by the handlers below and not yet handled


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block SIGTERM raises `Terminated`, as Ctrl-C raises KeyboardInterrupt.

    Python runs a signal handler wherever the main thread is, also inside a `__del__` or a GC
    callback, where the exception it raises is printed and dropped and the run goes on. So the
    handlers also record the interrupt, and `reraise_dropped_interrupt()` (called by the
    training callbacks between compiled calls) raises it again if nothing handled it.
    """

    def raise_terminated(signum, frame):
        _pending_interrupts.append(Terminated)
        raise Terminated()

    def raise_keyboard_interrupt(signum, frame):
        _pending_interrupts.append(KeyboardInterrupt)
        raise KeyboardInterrupt()

    def quiet_dropped_interrupt(unraisable):
        # Python prints a dropped exception with its traceback; this one is raised again
        # (`reraise_dropped_interrupt`), so the user sees the run's own one-line message.
        if not isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
            previous_hook(unraisable)

    _pending_interrupts.clear()
    previous = _set_handlers({signal.SIGTERM: raise_terminated, signal.SIGINT: raise_keyboard_interrupt})
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet_dropped_interrupt
    try:
        yield
    except KeyboardInterrupt:
        _pending_interrupts.clear()  # handled: it reached the caller
        raise
    finally:
        sys.unraisablehook = previous_hook
        _set_handlers(previous)


def interrupt_handled():
    """Mark the interrupt being raised as handled (its `except` clause runs)."""
    _pending_interrupts.clear()


def reraise_dropped_interrupt():
    """Raise again an interrupt whose exception was dropped where the handler ran (see
    `sigterm_as_interrupt`)."""
    if _pending_interrupts:
        interrupt = _pending_interrupts.pop()
        _pending_interrupts.clear()
        raise interrupt()


@contextlib.contextmanager
def signals_ignored():
    """Inside the block Ctrl-C and SIGTERM are ignored."""
    previous = _set_handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})
    try:
        yield
    finally:
        _set_handlers(previous)


@contextlib.contextmanager
def signals_deferred():
    """Ctrl-C or SIGTERM arriving inside the block takes effect when it ends, so that the block
    (say, a checkpoint and its history entry) is done whole or not at all."""
    received = []
    previous = _set_handlers({signal.SIGINT: lambda signum, frame: received.append(signum),
                              signal.SIGTERM: lambda signum, frame: received.append(signum)})
    try:
        yield
    finally:
        _set_handlers(previous)
        if received:
            signal.raise_signal(received[0])  # now the usual handler acts on it
