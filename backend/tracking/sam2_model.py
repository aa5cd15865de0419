"""Building SAM2.1 video models, in one place (as sam2's build_sam.py does).

config name -> hydra compose of the sam2 package's own config -> instantiate sam2's own
SAM2VideoPredictor -> strict load -> device -> eval. sam2 is imported lazily: start-up never fails
because it is missing.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Sequence

import torch

from sam2matting.backend.capabilities import Capability, Param
from sam2matting.backend.config import BackendConfig
from sam2matting.backend.model_files import SAM2_TRACKERS, SAM2MATTING_HEADS, ModelFile
from sam2matting.backend.tracking.base import FrameSource, Tracker
from sam2matting.backend.tracking.checkpoints import (
    VerifiedFile,
    read_state_dict,
    registry_entry,
    split_heads,
    verify_model_file,
)
from sam2matting.protocol.errors import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    from sam2matting.backend.tracking.sam2_session import SAM2Session

log = logging.getLogger(__name__)

VIDEO_PREDICTOR = "sam2.sam2_video_predictor.SAM2VideoPredictor"
# Hiera's first stage works on windows of 8 tokens at stride 4: the input must be a multiple of 32.
IMAGE_SIZE_MULTIPLE = 32
MIN_IMAGE_SIZE = 64


@dataclass(frozen=True)
class SAM2Settings:
    """What a SAM2 tracker's sessions do with memory; see registry.SAM2_PARAMS for the knobs."""

    # non-conditioning outputs kept on each side of the current frame (SAM2 attends to 6 + 15)
    memory_window: int = 16
    # keep mask memories in host RAM instead of GPU memory (slower, for big shots on small GPUs)
    offload_state_to_cpu: bool = False
    # hand each frame's backbone features to the caller (matting heads reuse them)
    expose_features: bool = True


LABELS = {
    "sam2.1-tiny": "SAM2.1 tiny",
    "sam2.1-small": "SAM2.1 small",
    "sam2.1-base_plus": "SAM2.1 base+",
    "sam2.1-large": "SAM2.1 large",
}
CPU_NOTE = " (on the CPU: very slow, seconds per frame)"
NO_SAM2 = "the sam2 package is not installed in the backend environment"
PARAMS: List[Param] = [
    Param(
        "memory_window",
        "int",
        SAM2Settings.memory_window,
        "Tracked frames kept in memory on each side of the current frame (SAM2 attends to the "
        "last 6 masks and 15 object pointers: below 15 it forgets some of them).",
        minimum=1,
        maximum=512,
    ),
    Param(
        "offload_state_to_cpu",
        "bool",
        SAM2Settings.offload_state_to_cpu,
        "Keep tracking memory in host RAM instead of GPU memory (slower; for long shots, many "
        "objects or small GPUs).",
    ),
]


def sam2_available() -> bool:
    return importlib.util.find_spec("sam2") is not None


def _fill_holes_supported() -> bool:
    """sam2 fills small mask holes with its CUDA extension; without it, it warns on every frame."""
    try:
        return importlib.util.find_spec("sam2._C") is not None
    except ImportError:
        return False


def hydra_overrides(image_size: Optional[int] = None) -> List[str]:
    """The overrides of sam2's build_sam2_video_predictor, plus this project's choices."""
    overrides = [
        f"++model._target_={VIDEO_PREDICTOR}",
        # build_sam2_video_predictor's post-processing defaults
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
        "++model.binarize_mask_from_pts_for_mem_enc=true",
        f"++model.fill_hole_area={8 if _fill_holes_supported() else 0}",
        # a re-prompt on a tracked frame must stick: sam2 then files it as a conditioning frame
        "++model.add_all_frames_to_correct_as_cond=true",
        # sam2 1.1.0 calls a method that does not exist when this is on (STYLE.md lesson 7)
        "++model.clear_non_cond_mem_around_input=false",
        "++model.non_overlap_masks=false",
    ]
    if image_size is not None:
        check_image_size(image_size)
        overrides.append(f"++model.image_size={image_size}")
    return overrides


def check_image_size(image_size: int) -> None:
    if image_size < MIN_IMAGE_SIZE or image_size % IMAGE_SIZE_MULTIPLE:
        raise ValueError(
            f"SAM2 image_size must be a multiple of {IMAGE_SIZE_MULTIPLE}, at least "
            f"{MIN_IMAGE_SIZE}; got {image_size}"
        )


def build_sam2_video_model(
    config: str,
    state_dict: Optional[Mapping[str, torch.Tensor]],
    device: torch.device,
    image_size: Optional[int] = None,
    extra_overrides: Sequence[str] = (),
) -> SAM2VideoPredictor:
    """Instantiate sam2's SAM2VideoPredictor from a sam2 package config and load weights strictly.

    `state_dict=None` keeps the random initialisation: for tests and benchmarks only.
    `image_size` overrides the square input size (1024 in every SAM2.1 config), for tests.
    """
    import sam2  # noqa: F401 - importing sam2 registers its config module with hydra
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = compose(config_name=config, overrides=[*hydra_overrides(image_size), *extra_overrides])
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    if state_dict is not None:
        load_strict(model, state_dict)
    model = model.to(device)
    model.eval()
    predictor: SAM2VideoPredictor = model
    return predictor


def load_strict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load the tracker keys of a checkpoint: none missing, none unexpected but matting heads."""
    tracker_keys, head_keys = split_heads(state_dict)
    expected = set(model.state_dict())
    missing = sorted(expected - set(tracker_keys))
    unexpected = sorted(set(tracker_keys) - expected)
    if missing or unexpected:
        raise ProtocolError(
            ErrorCode.CHECKPOINT_INVALID,
            f"checkpoint does not fit the model: {len(missing)} missing keys {missing[:5]}, "
            f"{len(unexpected)} unexpected keys {unexpected[:5]}",
        )
    try:
        model.load_state_dict(tracker_keys, strict=True)
    except RuntimeError as exc:  # shape mismatches
        raise ProtocolError(
            ErrorCode.CHECKPOINT_INVALID, f"checkpoint does not fit the model: {exc}"
        ) from exc
    if head_keys:
        log.info("ignored %d SAM2Matting head tensors in the tracker checkpoint", len(head_keys))


class SAM2Tracker(Tracker):
    """A loaded SAM2.1 video model, shared by every shot's streaming session."""

    def __init__(
        self, model: SAM2VideoPredictor, name: str, settings: Optional[SAM2Settings] = None
    ) -> None:
        self.model = model
        self.name = name
        self.settings = settings or SAM2Settings()

    @property
    def image_size(self) -> int:
        return int(self.model.image_size)

    @property
    def device(self) -> torch.device:
        return torch.device(self.model.device)

    def open_session(self, frames: FrameSource) -> SAM2Session:
        from sam2matting.backend.tracking.sam2_session import SAM2Session

        return SAM2Session(self.model, frames, self.settings)

    @classmethod
    def capability(cls, config: BackendConfig, name: str = "") -> Capability:
        """Available when sam2 imports and a verified file holds this tracker."""
        label = LABELS.get(name, name) + ("" if cuda_configured(config) else CPU_NOTE)
        reason = None
        if not sam2_available():
            reason = f"{NO_SAM2}: run the installer again (python3 installer/install.py)"
        else:
            try:
                find_tracker_checkpoint(name, config)
            except ProtocolError as exc:
                reason = f"{exc.message}. {exc.hint}"
        return Capability(name, label, reason is None, reason=reason, params=list(PARAMS))

    @classmethod
    def create(
        cls, name: str, config: BackendConfig, device: torch.device, options: Mapping[str, Any]
    ) -> SAM2Tracker:
        """The tracker from its verified file; settings from the config, then the options."""
        if not sam2_available():
            raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, NO_SAM2)
        settings = SAM2Settings(
            memory_window=config.memory_window, offload_state_to_cpu=config.offload_state_to_cpu
        )
        checkpoint = find_tracker_checkpoint(name, config)
        return load_sam2_tracker(
            name, config.models_dir, device, replace(settings, **options), checkpoint.model
        )


def cuda_configured(config: BackendConfig) -> bool:
    return config.device != "cpu" and torch.cuda.is_available()


def find_tracker_checkpoint(name: str, config: BackendConfig) -> VerifiedFile:
    """The verified file holding a SAM2.1 tracker: its own checkpoint, else a SAM2Matting one.

    A file that exists but fails verification is an error, never skipped for the next candidate.
    """
    candidates = tracker_files(name)
    for model in candidates:
        if (config.models_dir / model.filename).is_file():
            return verify_model_file(model, config.models_dir)
    stock = candidates[0]
    raise ProtocolError(
        ErrorCode.MODEL_UNAVAILABLE,
        f"{name} is not installed: {config.models_dir / stock.filename} not found",
        hint=f"Install it with: {stock.install_hint()}",
        details={"model": name},
    )


def tracker_files(name: str) -> List[ModelFile]:
    """Files that hold tracker `name`: its stock checkpoint first, then SAM2Matting bundles."""
    bundles = [m for m in SAM2MATTING_HEADS.values() if m.tracker == name]
    return [SAM2_TRACKERS[name], *bundles]


def load_sam2_tracker(
    name: str,
    models_dir: Path,
    device: torch.device,
    settings: Optional[SAM2Settings] = None,
    model_file: Optional[ModelFile] = None,
) -> SAM2Tracker:
    """Verify a registry checkpoint (stock SAM2.1 or SAM2Matting) and build its tracker from it."""
    entry = model_file or registry_entry(name)
    if entry.config is None:
        raise ProtocolError(ErrorCode.MODEL_UNAVAILABLE, f"{entry.name} has no SAM2 config")
    verified = verify_model_file(entry, models_dir)
    state = read_state_dict(verified.path, entry)
    try:
        model = build_sam2_video_model(entry.config, state, device)
    except ProtocolError as exc:
        exc.details.setdefault("path", str(verified.path))
        raise
    log.info("loaded %s from %s on %s", name, verified.path, device)
    return SAM2Tracker(model, name, settings)
