"""Session state of the fake Nuke: the main thread, its queue of deferred calls, callbacks, logs.

Every Nuke API entry point of the fake checks that it runs on the main thread (real Nuke may
crash or hang otherwise); a violation is recorded and raised, so a plugin that touches Nuke from
its worker thread fails its tests.
"""

from __future__ import annotations

import collections
import functools
import queue
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple


class FakeThreadError(AssertionError):
    """A Nuke call from a thread other than the main thread (or a call that would hang Nuke)."""


class FakeRenderError(RuntimeError):
    """What nuke.execute raises when a render fails (real Nuke raises RuntimeError)."""


class _Deferred:
    def __init__(
        self, call: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any], waited: bool
    ) -> None:
        self.call, self.args, self.kwargs = call, args, kwargs
        self.waited = waited  # WithResult: the caller re-raises errors itself
        self.done = threading.Event()
        self.result: Any = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.result = self.call(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()


class Session:
    """Everything one fake Nuke process holds (reset between tests)."""

    def __init__(self) -> None:
        self.main_thread = threading.main_thread()
        self.gui = True
        self.queue: queue.Queue[_Deferred] = queue.Queue()
        self.callbacks: Dict[str, List[Tuple[Callable[..., Any], tuple, dict, str]]] = (
            collections.defaultdict(list)
        )
        self.this_node: List[Any] = []
        self.this_knob: List[Any] = []
        self.context: List[Any] = []
        self.root: Any = None
        self.frame = 1
        # Views, renders, expressions and files (render checks, stereo, path remapping).
        self.views: List[str] = ["main"]
        self.view = "main"  # the view being rendered (nuke.thisView())
        self.rendering = 0  # > 0 inside nuke.execute
        self.gizmos: Dict[str, Callable[..., Any]] = {}  # class name -> builder of its insides
        self.layers: Dict[str, List[str]] = {}
        self.messages: List[str] = []
        self.printed: List[str] = []
        self.answers: Deque[Any] = collections.deque()
        self.progress_tasks: List[Any] = []
        self.executes: List[Dict[str, Any]] = []
        self.violations: List[str] = []
        self.menus: Dict[str, Any] = {}
        self.errors_in_deferred: List[BaseException] = []
        self.render_memo: Optional[Dict[Any, Any]] = None  # per frame while nuke.execute runs
        self.undo_disabled = 0  # nuke.Undo.disable() depth
        self.undo_steps: List[str] = []  # "node.knob" of every change recorded for undo
        self.modified = False  # the script's modified flag (Root.modified)
        self.viewer: Any = None  # nuke.activeViewer() (None: no Viewer open)
        self.artist = 0  # > 0 while the artist edits (knobChanged for code changes: _facts)


SESSION = Session()


def check_main(what: str) -> None:
    if threading.current_thread() is not SESSION.main_thread:
        text = f"{what} called from thread {threading.current_thread().name}"
        SESSION.violations.append(text)
        raise FakeThreadError(text)


def main_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: the wrapped Nuke API call must run on the main thread."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_main(fn.__qualname__)
        return fn(*args, **kwargs)

    return wrapper


def record_edit(node: Any, knob: str) -> None:
    """A knob changed: an undo step unless undo is disabled; the script is modified."""
    if SESSION.undo_disabled == 0:
        SESSION.undo_steps.append(f"{node._knobs['name']._value}.{knob}")
    SESSION.modified = True


# ------------------------------------------------------------------ deferred calls


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    if threading.current_thread() is SESSION.main_thread:
        text = "executeInMainThread from the main thread (Nuke's docs: it hangs Nuke)"
        SESSION.violations.append(text)
        raise FakeThreadError(text)
    if not isinstance(args, tuple):
        args = (args,)
    SESSION.queue.put(_Deferred(call, args, dict(kwargs or {}), waited=False))


def executeInMainThreadWithResult(
    call: Callable[..., Any], args: Any = (), kwargs: Any = None, timeout_s: float = 60.0
) -> Any:
    if threading.current_thread() is SESSION.main_thread:
        text = "executeInMainThreadWithResult from the main thread hangs Nuke"
        SESSION.violations.append(text)
        raise FakeThreadError(text)
    if not isinstance(args, tuple):
        args = (args,)
    item = _Deferred(call, args, dict(kwargs or {}), waited=True)
    SESSION.queue.put(item)
    if not item.done.wait(timeout_s):
        raise FakeThreadError(f"the main thread did not run a deferred call within {timeout_s} s")
    if item.error is not None:
        raise item.error
    return item.result


def pump(until: Optional[Callable[[], bool]] = None, timeout_s: float = 30.0) -> int:
    """Run deferred calls on the main thread (Nuke's event loop) until `until()` or the queue
    stays empty; returns how many ran. Raises TimeoutError when `until` never became true."""
    check_main("pump")
    deadline = time.monotonic() + timeout_s
    ran = 0
    while True:
        if until is not None and until():
            return ran
        try:
            item = SESSION.queue.get(timeout=0.01)
        except queue.Empty:
            if until is None:
                return ran
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not reached within {timeout_s} s") from None
            continue
        item.run()
        ran += 1
        if item.error is not None and not item.waited:
            # executeInMainThread: Nuke prints the traceback; keep it for the test to see.
            SESSION.errors_in_deferred.append(item.error)


# ------------------------------------------------------------------ callbacks


def add_callback(
    kind: str, call: Callable[..., Any], args: Any, kwargs: Any, node_class: str
) -> None:
    check_main("add" + kind)
    if not isinstance(args, tuple):
        args = (args,)
    SESSION.callbacks[kind].append((call, args, dict(kwargs or {}), node_class))


def remove_callback(kind: str, call: Callable[..., Any], node_class: str) -> None:
    check_main("remove" + kind)
    entries = SESSION.callbacks[kind]
    entries[:] = [e for e in entries if not (e[0] == call and e[3] == node_class)]


def run_callbacks(kind: str, node: Any = None) -> None:
    """Run registered callbacks of one kind with thisNode() set, as Nuke does."""
    for call, args, kwargs, node_class in list(SESSION.callbacks[kind]):
        if node_class != "*" and (node is None or node.Class() != node_class):
            continue
        SESSION.this_node.append(node)
        try:
            call(*args, **kwargs)
        finally:
            SESSION.this_node.pop()
