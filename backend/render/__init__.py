"""The farm-render library: a plate sequence matted from a shot file, resumably.

`sam2matting render` (backend/cli/render.py) is a thin command over it; `demo` reuses the
client. Reading order: `run` (prepare and execute one render: the entry point for any front
end), `patterns` (what the user typed, as the protocol's sequence patterns and frame ranges),
`shot` (the shot file a render reads), `plan` (tracking passes), `job` (one render's state),
`outputs` (what is finished, atomic writes), `client` (driving a backend over the protocol),
`in_process` (a backend on a thread of this process), `progress` (the terminal bar).
"""
