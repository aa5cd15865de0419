"""Which SAM2Matte nodes a Write's pixels come through: the render check's graph walk.

From the Write upstream, through Dots, Switches, time nodes, Groups and gizmos, whether the Write
is at the top level or inside a Group or gizmo:

- a Group or gizmo is entered at its Output node (what it outputs); an Input node inside leads
  back out to what feeds that input of the Group (`number` knob = input index, 0 first);
- a Switch follows the input its `which` picks at the frame; any other node all its inputs;
- a disabled node or Group passes an input through and shows nothing of its insides: all its
  inputs are followed (the input Nuke passes is one of them);
- a SAM2Matte node is found (unless disabled) and its own inputs followed, never its insides;
- behind a node that changes time (TimeOffset, Retime, FrameHold ...) the frame the Write renders
  says nothing about the frames read upstream: nodes found there need their whole range.

Each node is visited at most twice (frame-true and time-changed), keyed by its full name: the
walk is linear in the upstream graph. Where a Switch or a `disable` is animated or driven by an
expression, the result holds for one frame only (`Walk.per_frame`); otherwise for every frame of
the render. Nothing here imports `nuke`; the NukeNode methods it calls are in host.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

if TYPE_CHECKING:
    from .host import NukeNode

# Nodes whose output frame f is made from other input frames (Nuke's Time toolbar, plus the
# blur nodes that sample neighbouring frames). FrameRange only limits the range: not listed.
TIME_CLASSES = frozenset(
    {
        "AppendClip",
        "FrameBlend",
        "FrameHold",
        "Kronos",
        "MotionBlur",
        "OFlow",
        "OFlow2",
        "Retime",
        "TemporalMedian",
        "TimeBlur",
        "TimeClip",
        "TimeEcho",
        "TimeOffset",
        "TimeWarp",
    }
)


class Found(NamedTuple):
    node: NukeNode
    whole_range: bool  # reached through a time-changing node


class Walk(NamedTuple):
    found: List[Found]
    per_frame: bool  # a Switch or disable varies over time: walk again for the next frame


Lookup = Callable[[str], Optional["NukeNode"]]  # fullName -> node (NukeHost.node_at)


def walk(start: NukeNode, frame: int, lookup: Lookup) -> Walk:
    """The SAM2Matte nodes upstream of `start` (a Write) at `frame`, in the order found."""
    state = _State(frame, lookup)
    stack: List[Tuple[NukeNode, bool]] = [(n, False) for n in start.sources()]
    while stack:
        node, timed = stack.pop()
        key = (node.full_name(), timed)
        if key not in state.seen:
            state.seen.add(key)
            stack += state.step(node, timed)
    found = [Found(n, timed) for n, timed in state.found.values()]
    return Walk(found, state.per_frame)


class _State:
    def __init__(self, frame: int, lookup: Lookup) -> None:
        self.frame = frame
        self.lookup = lookup
        self.seen: Set[Tuple[str, bool]] = set()
        self.found: Dict[str, Tuple[NukeNode, bool]] = {}
        self.per_frame = False

    def step(self, node: NukeNode, timed: bool) -> List[Tuple[NukeNode, bool]]:
        """What to visit next from `node` (reached frame-true, or through a time change)."""
        if self._disabled(node):
            after = node.sources()
        elif node.is_ours():
            name = node.full_name()
            self.found[name] = (node, timed or self.found.get(name, (node, False))[1])
            after = node.sources()
        else:
            timed = timed or node.class_name() in TIME_CLASSES
            after = self._feeding(node)
        return [(n, timed) for n in after]

    def _feeding(self, node: NukeNode) -> List[NukeNode]:
        """The nodes whose output makes this node's output."""
        if node.class_name() == "Input":
            outer = self._group_input(node)
            return [outer] if outer is not None else []
        if node.is_group():
            inside = node.group_output()
            return [inside] if inside is not None else node.sources()
        if node.class_name() == "Switch":
            return self._switched(node)
        return node.sources()

    def _disabled(self, node: NukeNode) -> bool:
        if node.varies("disable"):
            self.per_frame = True
        value = node.value_at("disable", self.frame)
        return bool(value)

    def _group_input(self, node: NukeNode) -> Optional[NukeNode]:
        """What feeds a Group's input from outside, for one of its Input nodes."""
        parent_name, _, _ = node.full_name().rpartition(".")
        number = node.value_at("number", self.frame)
        if not parent_name or number is None:
            return None  # an Input at the top level (a gizmo file opened as a script)
        group = self.lookup(parent_name)
        return group.input(int(number)) if group is not None else None

    def _switched(self, node: NukeNode) -> List[NukeNode]:
        if node.varies("which"):
            self.per_frame = True
        inputs = node.inputs()
        which = node.value_at("which", self.frame)
        if which is None or which != int(which) or not 0 <= which < len(inputs):
            # Not a whole input number in range: Nuke's choice is not documented; follow all.
            return [n for n in inputs if n is not None]
        chosen = inputs[int(which)]
        return [chosen] if chosen is not None else []
