"""Paths and wheel tags per platform: Windows and macOS layouts are checked as pure paths here."""

from __future__ import annotations

import ast
import sys
from pathlib import PurePosixPath, PureWindowsPath
from typing import Callable, Dict, List

import pytest

from sam2matting.installer import init_block, nuke_installs
from sam2matting.installer.platforms import LINUX, MACOS, WINDOWS, Platform

WIN_ENV = {"USERPROFILE": r"C:\Users\ada", "ProgramFiles": r"D:\Apps"}


def test_windows_user_nuke_dir_prefers_home_then_userprofile() -> None:
    win = Platform(WINDOWS, "AMD64", dict(WIN_ENV))
    assert win.nuke_user_dir() == PureWindowsPath(r"C:\Users\ada\.nuke")
    with_home = Platform(WINDOWS, "AMD64", {**WIN_ENV, "HOME": r"H:\ada"})
    assert with_home.nuke_user_dir() == PureWindowsPath(r"H:\ada\.nuke")
    assert isinstance(win.nuke_user_dir(), PureWindowsPath)


def test_venv_python_per_platform() -> None:
    win = Platform(WINDOWS, "AMD64", dict(WIN_ENV))
    assert win.venv_python(win.path(r"C:\Users\ada\.sam2matting\venv")) == PureWindowsPath(
        r"C:\Users\ada\.sam2matting\venv\Scripts\python.exe"
    )
    linux = Platform(LINUX, "x86_64", {"HOME": "/home/ada"})
    assert linux.venv_python(linux.path("/home/ada/venv")) == PurePosixPath(
        "/home/ada/venv/bin/python"
    )


def _fake_listdir(tree: Dict[str, List[str]]) -> Callable[[str], List[str]]:
    def listdir(path: str) -> List[str]:
        if path not in tree:
            raise FileNotFoundError(path)
        return tree[path]

    return listdir


def test_windows_nuke_installs_found_with_their_python() -> None:
    win = Platform(WINDOWS, "AMD64", dict(WIN_ENV))
    roots = nuke_installs.search_roots(win)
    assert roots == [PureWindowsPath(r"D:\Apps")]
    listdir = _fake_listdir(
        {r"D:\Apps": ["Nuke13.2v5", "Nuke15.0v4", "Nuke15.1v2 Beta", "Mari5.0v1"]}
    )
    existing = {r"D:\Apps\Nuke15.0v4\python.exe"}
    found = nuke_installs.find_installs(win, roots, listdir, existing.__contains__)
    assert [n.name for n in found] == ["Nuke 15.1v2", "Nuke 15.0v4", "Nuke 13.2v5"]
    by_name = {n.name: n for n in found}
    assert by_name["Nuke 15.0v4"].python_exe == PureWindowsPath(r"D:\Apps\Nuke15.0v4\python.exe")
    assert by_name["Nuke 13.2v5"].python_exe is None
    assert by_name["Nuke 13.2v5"].python == (3, 7)
    assert nuke_installs.pythons_for(found) == [(3, 7), (3, 10)]


def test_macos_python_lives_inside_the_app_bundle() -> None:
    mac = Platform(MACOS, "arm64", {"HOME": "/Users/ada"}, mac_version=(14, 2))
    roots = nuke_installs.search_roots(mac)
    assert roots == [PurePosixPath("/Applications")]
    exe = "/Applications/Nuke14.0v6/Nuke14.0v6.app/Contents/MacOS/python3"
    found = nuke_installs.find_installs(
        mac,
        roots,
        _fake_listdir({"/Applications": ["Nuke14.0v6", "Safari.app"]}),
        {exe}.__contains__,
    )
    assert len(found) == 1
    assert found[0].python_exe == PurePosixPath(exe)


def test_search_roots_from_environment_and_command_line() -> None:
    win = Platform(
        WINDOWS, "AMD64", {**WIN_ENV, nuke_installs.NUKE_SEARCH_ENV: r"E:\Nuke;F:\Other"}
    )
    assert nuke_installs.search_roots(win) == [
        PureWindowsPath(r"E:\Nuke"),
        PureWindowsPath(r"F:\Other"),
    ]
    assert nuke_installs.search_roots(win, [r"G:\x"]) == [PureWindowsPath(r"G:\x")]


def test_windows_init_block_path_is_an_exact_python_literal() -> None:
    plugin = PureWindowsPath(r"C:\Users\ada\.sam2matting\nuke")
    lines = init_block.render(plugin, "0.1.0")
    call = next(line for line in lines if "pluginAddPath" in line)
    literal = call[call.index("(") + 1 : call.rindex(")")]
    assert ast.literal_eval(literal) == str(plugin)
    assert init_block.plugin_path_in("\n".join(lines)) == str(plugin)


def test_path_literal_falls_back_to_repr_where_a_raw_string_cannot_hold_it() -> None:
    odd = PurePosixPath('/home/a"b/nuke')
    assert ast.literal_eval(init_block.python_string(odd)) == str(odd)
    text = "\n".join(init_block.render(odd, "0.1.0"))
    assert init_block.plugin_path_in(text) == str(odd)


def test_nuke_path_lines_for_windows_and_posix() -> None:
    win = Platform(WINDOWS, "AMD64", dict(WIN_ENV))
    win_lines = init_block.nuke_path_lines(PureWindowsPath(r"C:\pipe\sam2matting"), win)
    assert r'set "NUKE_PATH=C:\pipe\sam2matting;%NUKE_PATH%"' in win_lines
    assert r'env.NUKE_PATH.append(r"C:\pipe\sam2matting")' in win_lines
    linux = Platform(LINUX, "x86_64", {"HOME": "/home/ada"})
    lines = init_block.nuke_path_lines(PurePosixPath("/pipe/sam2matting"), linux)
    assert 'export NUKE_PATH="/pipe/sam2matting${NUKE_PATH:+:$NUKE_PATH}"' in lines


def test_manylinux_tags_cover_older_glibc_in_order() -> None:
    tags = Platform(LINUX, "x86_64", glibc=(2, 28)).pip_platform_tags()
    assert tags[0] == "manylinux_2_28_x86_64"
    assert "manylinux2014_x86_64" in tags
    assert tags.index("manylinux_2_17_x86_64") < tags.index("manylinux2010_x86_64")
    assert tags[-1] == "manylinux1_x86_64"
    arm = Platform(LINUX, "aarch64", glibc=(2, 17)).pip_platform_tags()
    assert arm == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]


@pytest.mark.parametrize(
    ("machine", "nuke_major", "arch"),
    [("arm64", 14, "x86_64"), ("arm64", 15, "arm64"), ("x86_64", 16, "x86_64")],
)
def test_macos_tags_follow_the_nuke_binary_arch(machine: str, nuke_major: int, arch: str) -> None:
    tags = Platform(MACOS, machine, mac_version=(13, 4)).pip_platform_tags(nuke_major)
    assert tags[0] == f"macosx_13_0_{arch}"
    assert f"macosx_11_0_{arch}" in tags
    assert "macosx_11_0_universal2" in tags
    other = "arm64" if arch == "x86_64" else "x86_64"
    assert not any(t.endswith(other) for t in tags)


def test_windows_wheel_tag() -> None:
    assert Platform(WINDOWS, "AMD64").pip_platform_tags() == ["win_amd64"]


@pytest.mark.skipif(sys.platform != "linux", reason="describes a Linux machine")
def test_current_platform_describes_this_machine() -> None:
    here = Platform.current({"HOME": "/tmp/x"})
    assert here.system == LINUX
    assert here.home() == PurePosixPath("/tmp/x")
    assert here.glibc is not None
    assert here.pip_platform_tags()[0].startswith(f"manylinux_2_{here.glibc[1]}_")
