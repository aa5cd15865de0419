# Nuke runs this in GUI sessions only: the SAM2Matte entry in the Nodes toolbar.
import sam2matting_nuke.startup

sam2matting_nuke.startup.menu()
