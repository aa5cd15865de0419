"""SAM2Matting for Nuke: the SAM2Matte node (host side of the SAM2Matting backend).

Loaded from Nuke's plugin path (init.py / menu.py beside this package). Only `host.py` imports
`nuke`; the rest is plain Python tested against a fake `nuke` module.
"""
