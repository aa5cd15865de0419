"""The Nuke behaviours this fake models, each with its source, and the ones it cannot vouch for.

DOCUMENTED: a Foundry page (or the types-nuke stubs) says so; the fake behaves that way.
UNVERIFIED: no Foundry statement was found either way. Where the fake touches one, it records it
(`touch`), and it models the pessimistic case unless a test asks for a variant (`variant`), so
a plugin that depends on an unverified behaviour fails its tests, and a test can list which
unverified behaviours a whole session touched (`touched`). Not part of Nuke.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple


class Fact(NamedTuple):
    behaviour: str
    source: str = ""  # empty: unverified


DOCUMENTED: Dict[str, Fact] = {
    "knob_invisible_flag": Fact(
        "the INVISIBLE flag hides a knob in the panel and its widget in the Viewer",
        "NDK guide, knob flags: learn.foundry.com/nuke/developers/105/ndkdevguide/"
        "knobs-and-handles/knobflags.html",
    ),
    "gui_expression": Fact(
        "$gui is 1 when the node is computed for the GUI, 0 at render time",
        "learn.foundry.com/nuke/14.1/content/comp_environment/rendering/bypass_gui_renders.html",
    ),
    "knob_reference_expression": Fact(
        "an expression names another knob with a dot-separated name (parent.<knob> in a group)",
        "nuke.expr, 13.1 dev guide: learn.foundry.com/nuke/developers/131/pythondevguide/"
        "_autosummary/nuke.expr.html",
    ),
    "switch_which": Fact(
        "Switch shows input `which`",
        "learn.foundry.com/nuke/content/reference_guide/merge_nodes/switch.html",
    ),
    "set_value_at": Fact(
        "Array_Knob.setValueAt / clearAnimated / isAnimated / setExpression",
        "types-nuke 13.2 stubs (Array_Knob)",
    ),
    "undo_disable": Fact(
        "nuke.Undo.disable(): prevent recording undos until the matching enable()",
        "15.1 dev guide: learn.foundry.com/nuke/developers/151/pythondevguide/_autosummary/"
        "nuke.Undo.html",
    ),
    "root_modified": Fact(
        "Root.modified() / Root.setModified(bool): the script's modified flag",
        "types-nuke 13.2 stubs (Root)",
    ),
    "dope_sheet_keys": Fact(
        "the Dope Sheet shows the keys of nodes with keyframes whose panels are open",
        "learn.foundry.com/nuke/8.0/content/getting_started/using_interface/"
        "viewing_keys_dope_sheet.html",
    ),
    "dilate_node": Fact(
        "Erode (fast) is class Dilate: `size` > 0 grows light pixels, < 0 shrinks; `channels`",
        "learn.foundry.com/nuke/content/reference_guide/filter_nodes/erode_fast.html",
    ),
    "blur_node": Fact(
        "Blur: `channels`, `size` (radius)",
        "learn.foundry.com/NUKE/content/reference_guide/filter_nodes/blur.html",
    ),
    "channelmerge_node": Fact(
        "ChannelMerge: A channel, B channel, `operation` (max ...), `output`; rest from B",
        "learn.foundry.com/NUKE/CONTENT/reference_guide/channel_nodes/channelmerge.html",
    ),
    "merge_node": Fact(
        "Merge (class Merge2): `operation` over, `mix`; inputs B (0) and A (1)",
        "learn.foundry.com/NUKE/CONTENT/reference_guide/merge_nodes/merge.html (knobs, the A "
        "and B inputs); input 0 is B: nuke.knob, 13.0 dev guide ('The word input means the "
        "first (0 or B) input of a node'): learn.foundry.com/nuke/developers/13.0/"
        "pythondevguide/_autosummary/nuke.Knob.html",
    ),
    "copy_node": Fact(
        "Copy replaces channels of B (input 0) with channels of A (input 1): from0 -> to0",
        "learn.foundry.com/NUKE/CONTENT/reference_guide/channel_nodes/copy.html (inputs A and "
        "B, from0/to0); input 0 is B: nuke.knob, 13.0 dev guide (see merge_node)",
    ),
    "multiply_node": Fact(
        "Multiply: `channels`, `value`",
        "learn.foundry.com/nuke/Content/reference_guide/color_nodes/multiply_color.html",
    ),
    "premult_node": Fact(
        "Premult multiplies the rgb channels by alpha",
        "learn.foundry.com/nuke/content/reference_guide/merge_nodes/premult.html",
    ),
    "selected_nodes": Fact(
        "nuke.selectedNodes(): the current group's selected nodes, inputs before the nodes "
        "that use them",
        "15.1 dev guide: learn.foundry.com/nuke/developers/151/pythondevguide/_autosummary/"
        "nuke.selectedNodes.html",
    ),
    "rectangle_node": Fact(
        "Rectangle draws a solid `color` over its input in `area` (x, y, r, t)",
        "learn.foundry.com/NUKE/CONTENT/reference_guide/draw_nodes/rectangle.html",
    ),
    # Renders (the render check; docs/NUKE_PLUGIN.md lists them for TDs)
    "render_callbacks_by_class": Fact(
        "render callbacks are looked up by the running node's class; addBeforeRender / "
        "addBeforeFrameRender default to nodeClass='Write' (so inner Writes of groups run them)",
        "nuke_internal/callbacks.py, 16.1 dev guide: learn.foundry.com/nuke/developers/16.1/"
        "pythondevguide/_modules/nuke_internal/callbacks.html",
    ),
    "nuke_filename": Fact(
        "nuke.filename(node[, REPLACE]): TCL commands and variables expanded; %04d kept unless "
        "REPLACE puts the current frame in",
        "13.1 dev guide: learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/"
        "nuke.filename.html",
    ),
    "filename_filters": Fact(
        "addFilenameFilter callbacks change paths before Nuke passes them to the OS, last "
        "added first; createWriteDir applies nuke.callbacks.filenameFilter to nuke.filename",
        "13.0 dev guide: learn.foundry.com/nuke/developers/130/pythondevguide/_autosummary/"
        "nuke.addFilenameFilter.html; Callbacks chapter (beforeRender example)",
    ),
    "evalstring_evaluate": Fact(
        "EvalString_Knob.evaluate() performs the TCL substitutions of the knob's text",
        "Python API reference: learn.foundry.com/nuke/developers/131/pythondevguide/"
        "_autosummary/nuke.EvalString_Knob.html",
    ),
    "execute_views": Fact(
        "nuke.execute(..., views=None) renders every view; views=[...] only those",
        "dev guide, nuke.execute / executeMultiple",
    ),
    "gizmo_is_group": Fact(
        "nuke.Gizmo derives from nuke.Group; a script keeps only a gizmo's knobs",
        "types-nuke 13.2 stubs (class Gizmo(Group)); NUKE_NOTES (gizmos save knob values only)",
    ),
    "read_knobs": Fact(
        "Read: file, first/last, before/after, on_error, raw, colorspace (the space it converts "
        "from), premultiplied, frame_mode/frame (frame remapping), reload",
        "reference guide, Read: learn.foundry.com/nuke/content/reference_guide/image_nodes/"
        "read.html; NDK DD::Image::Read (colorspace(), raw(), premult())",
    ),
    "panel_show_hide": Fact(
        "Node.showControlPanel() / hideControlPanel() open and close the node's panel; "
        "Node.shown() says whether it is open",
        "13.1 dev guide, Getting Started ('Showing and Hiding a Node's Properties Panel'); "
        "types-nuke 13.2 stubs (Node.shown)",
    ),
    "time_offset": Fact(
        "TimeOffset moves its input in time: a positive `time_offset` adds frames to the head",
        "user guide 8.0, Offsetting and Slipping Clips: learn.foundry.com/nuke/8.0/content/"
        "user_guide/temporal_operations/offsetting_slipping_clips.html",
    ),
    "render_callback_exception_aborts": Fact(
        "an exception raised by a before-render or before-each-frame callback aborts the render",
        "reference guide, Write node, Python tab ('If they throw an exception, the render "
        "aborts'): learn.foundry.com/NUKE/content/reference_guide/image_nodes/profile.html",
    ),
    "enumeration_expression": Fact(
        "an Enumeration_Knob is an Array_Knob: it can hold an expression, which selects an "
        "item by its index",
        "types-nuke 13.2 stubs (Enumeration_Knob derives from Unsigned_Knob / Array_Knob)",
    ),
    "node_graph_api": Fact(
        "Group.output(), Group.node(name), Node.fullName(), Node.dependencies(INPUTS | "
        "HIDDEN_INPUTS), Node.input(i), Node.inputs(), Knob.getValueAt, isAnimated, "
        "hasExpression",
        "Python API reference: learn.foundry.com/nuke/developers/132/pythondevguide/"
        "_autosummary/nuke.Node.html, nuke.Group.html",
    ),
    "write_views": Fact(
        "a Write's `views` knob chooses the views it renders",
        "user guide, 'Rendering stereoscopic images' (Write views)",
    ),
    "views_list": Fact(
        "nuke.views() lists the script's views (Project Settings > Views)",
        "Python API reference, nuke.views; nukescripts.stereo source (the root's `views` knob)",
    ),
    "this_view": Fact(
        "nuke.thisView() is the view being computed",
        "Python API reference, nuke.thisView",
    ),
    "oncreate_callbacks": Fact(
        "onCreate callbacks (addOnCreate, nodeClass) and a node's onCreate knob run when a "
        "node is created, also when a script loads or a node is pasted",
        "Python dev guide, Callbacks: learn.foundry.com/nuke/developers/130/pythondevguide/"
        "callbacks.html",
    ),
    "startup_scripts": Fact(
        "init.py runs at every start (nuke -t, nuke -x too), menu.py only with a GUI",
        "Python dev guide, Start-up scripts",
    ),
    "execute_in_main_thread": Fact(
        "executeInMainThreadWithResult called from the main thread waits forever; "
        "executeInMainThread does not wait",
        "nuke_internal/executeInMain.py, 14.0 dev guide source",
    ),
    "execute_progress": Fact(
        "nuke.execute in the GUI shows a modal progress meter; cancelling it raises an error",
        "13.0 dev guide, nuke.execute / nuke.executeMultiple",
    ),
    "progress_task": Fact(
        "nuke.ProgressTask(title) with setMessage / setProgress / isCancelled",
        "13.1 dev guide: learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/"
        "nuke.ProgressTask.html",
    ),
}

UNVERIFIED: Dict[str, Fact] = {
    "setVisible_hides_viewer_handle": Fact(
        "Knob.setVisible(False) also hides an XY/BBox handle in the Viewer (the fake: it does "
        "not; only the INVISIBLE flag does)"
    ),
    "createNode_group_has_io": Fact(
        "nuke.createNode('Group') makes Input1 -> Output1 inside the new Group (the fake: "
        "variant 'group_has_io', on by default)"
    ),
    "viewer_timeline_shows_keys": Fact(
        "the Viewer's timeline marks the keys of the open node's animated knobs (the fake: "
        "nuke._fake.timeline_keys)"
    ),
    "viewer_draws_xy_labels": Fact(
        "the Viewer draws an XY knob's label next to its handle (the fake: "
        "nuke._fake.viewer_labels)"
    ),
    "input_change_knob": Fact(
        "knobChanged runs with a knob named 'inputChange' when the node's inputs change "
        "(the docs say 'dummy knobs', not their names; the fake: so, with the panel open)"
    ),
    "group_children_on_load_oncreate": Fact(
        "a Python-built Group's children exist when its onCreate runs while a script loads"
    ),
    "xy_pixel_aspect": Fact(
        "XY / BBox knob values are full-resolution pixels of the format: x in pixel columns on "
        "anamorphic formats, not scaled in proxy mode (the fake: so; it records each read of "
        "such a knob on a node whose format is anamorphic, or in proxy mode)"
    ),
    "frame_callbacks_per_view": Fact(
        "beforeFrameRender / afterFrameRender run once per view of each frame, with "
        "nuke.thisView() naming the view being rendered"
    ),
    "gui_during_gui_session_render": Fact(
        "$gui is 1 while a render started inside the GUI session evaluates knobs (Foundry says "
        "0 'at render time' without saying whether GUI-session renders count; the fake: 1)"
    ),
    "main_view_first": Fact(
        "the first name of nuke.views() is the main (hero) view (the fake records each "
        "nuke.views() call in a script of several views)"
    ),
    "write_views_knob": Fact(
        "Write['views'].value() holds the names of the views it renders, space-separated"
    ),
    "read_colorspace_default_text": Fact(
        "a Read left on its file type's default colourspace says 'default (<name>)' in "
        "['colorspace'].value() (the fake: 'default (linear)'; variant "
        "'read_default_names_space' off: a bare 'default', and the plugin renders the plate)"
    ),
    "viewer_colour_sample_bbox": Fact(
        "a Ctrl+click in the Viewer stores the sampled area in the active Viewer node's "
        "colour_sample_bbox (x0, y0, x1, y1) in units of half the format's width, centred on "
        "the format, before Qt's mouse-release event is handled (community: hagbarth.net, "
        "from Ben Dickson's example on the Nuke mailing list; no Foundry statement)"
    ),
    "add_knob_panel_open": Fact(
        "knobs added with addKnob while the node's panel is open show in that panel before it "
        "is reopened (the fake: they do not; the plugin reopens an open panel itself)"
    ),
    "input_number_knob": Fact(
        "an Input node's hidden `number` knob is the Group input it stands for, 0 first, given "
        "in creation order (community only: keheka.com 'The hidden number in Nuke', Nukepedia)"
    ),
    "read_on_error_items": Fact(
        "the Read's `on_error` (missing frames) items are error (0), black (1), checkerboard, "
        "nearest frame, so that an expression of 0 / 1 selects error / black"
    ),
    "progress_task_not_modal": Fact(
        "a nuke.ProgressTask is not modal in Nuke 13-16 (17.1 documents kModal as an opt-in "
        "flag; earlier versions say nothing): the artist can work while it shows"
    ),
    "knob_changed_by_code": Fact(
        "knobChanged also runs for knob changes made by code (17.1 says so; 13.2 describes "
        "changes the user makes; the fake: it runs, variant 'knob_changed_by_code')"
    ),
    "qt_event_filter_viewer_clicks": Fact(
        "a Qt event filter on Nuke's QApplication sees the Viewer's mouse releases with their "
        "modifiers (PySide2 in 13-15, PySide6 in 16; the fake has no Qt: not modelled)"
    ),
}

_touched: List[str] = []
_DEFAULT_VARIANTS = {
    "group_has_io": True,
    "group_children_first_on_load": True,
    "read_default_names_space": True,
    "knob_changed_by_code": True,
}
_variants: Dict[str, bool] = dict(_DEFAULT_VARIANTS)


def touch(key: str) -> None:
    """The fake exercised an unverified behaviour (recorded once per session)."""
    if key not in UNVERIFIED:
        raise KeyError(f"{key} is not in the fake's UNVERIFIED registry")
    if key not in _touched:
        _touched.append(key)


def touched() -> List[str]:
    return list(_touched)


def variant(name: str) -> bool:
    return _variants[name]


def set_variant(name: str, value: bool) -> None:
    if name not in _variants:
        raise KeyError(name)
    _variants[name] = value


def reset() -> None:
    del _touched[:]
    _variants.update(_DEFAULT_VARIANTS)
