"""The farm-render library: a plate sequence matted from a shot file, resumably.

`sam2matting render` (backend/cli/render.py) is a thin command over it; `demo` reuses the
client and patterns. Reading order: `patterns` (sequence names, frame ranges), `shot` (the
shot file a render reads), `plan` (tracking passes), `job` (one render's state and loop),
`outputs` (what is finished, atomic writes), `client` (driving a backend over the protocol),
`in_process` (a backend on a thread of this process), `progress` (the terminal bar).
"""
