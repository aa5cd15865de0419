# Nuke runs this at every start (GUI, nuke -t, nuke -x): make SAM2Matting importable and
# register its render check. Nothing heavy, nothing GUI.
import sam2matting_nuke.startup

sam2matting_nuke.startup.init()
