"""The model files the project loads: names, sizes, sha256, configs (../shared CHECKPOINTS.md).

Plain data, importable without torch, so the installer and `doctor` share it with the backend.
The server never downloads: a missing or mismatching file is an error naming the installer command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

SAM2_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
SAM2MATTING_BASE_URL = "https://huggingface.co/FudanCVL/SAM2Matting/resolve/main/checkpoints/"
INSTALL_HINT = "python3 installer/install.py --models {short}"


@dataclass(frozen=True)
class ModelFile:
    name: str  # registry name, as `describe` and the CLI show it
    filename: str
    size: Optional[int]  # bytes; None where no size is published
    sha256: Optional[str]  # None where no hash is published (recorded at first download)
    config: Optional[str]  # sam2 package config, for SAM2.1 trackers
    url: str
    licence: str
    # sam2matting heads bundled with a SAM2.1 tracker: the tracker they were trained with
    tracker: Optional[str] = None

    @property
    def short(self) -> str:
        return self.name.split("-", 1)[-1]

    def install_hint(self) -> str:
        return INSTALL_HINT.format(short=self.short)


SAM2_TRACKERS: Dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            "sam2.1-tiny",
            "sam2.1_hiera_tiny.pt",
            156_008_466,
            "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
            "configs/sam2.1/sam2.1_hiera_t.yaml",
            SAM2_BASE_URL + "sam2.1_hiera_tiny.pt",
            "Apache-2.0",
        ),
        ModelFile(
            "sam2.1-small",
            "sam2.1_hiera_small.pt",
            184_416_285,
            "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
            "configs/sam2.1/sam2.1_hiera_s.yaml",
            SAM2_BASE_URL + "sam2.1_hiera_small.pt",
            "Apache-2.0",
        ),
        ModelFile(
            "sam2.1-base_plus",
            "sam2.1_hiera_base_plus.pt",
            323_606_802,
            "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
            "configs/sam2.1/sam2.1_hiera_b+.yaml",
            SAM2_BASE_URL + "sam2.1_hiera_base_plus.pt",
            "Apache-2.0",
        ),
        ModelFile(
            "sam2.1-large",
            "sam2.1_hiera_large.pt",
            898_083_611,
            "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
            "configs/sam2.1/sam2.1_hiera_l.yaml",
            SAM2_BASE_URL + "sam2.1_hiera_large.pt",
            "Apache-2.0",
        ),
    )
}

# Official SAM2Matting checkpoints: non-commercial (CC BY-NC 4.0), installed only after the user
# accepts the licence; no published hashes, so the installer records one at first download.
SAM2MATTING_HEADS: Dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            "sam2matting-tiny",
            "SAM2Matting-SAM2.1Tiny.pt",
            None,
            None,
            "configs/sam2.1/sam2.1_hiera_t.yaml",
            SAM2MATTING_BASE_URL + "SAM2Matting-SAM2.1Tiny.pt",
            "CC-BY-NC-4.0",
            tracker="sam2.1-tiny",
        ),
        ModelFile(
            "sam2matting-base_plus",
            "SAM2Matting-SAM2.1Base+.pt",
            None,
            None,
            "configs/sam2.1/sam2.1_hiera_b+.yaml",
            SAM2MATTING_BASE_URL + "SAM2Matting-SAM2.1Base+.pt",
            "CC-BY-NC-4.0",
            tracker="sam2.1-base_plus",
        ),
    )
}
