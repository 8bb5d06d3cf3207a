"""The wav2vec2-node model manifest, for the Python export scripts (lib/model/manifest.ts reads and validates it)."""
import json
from pathlib import Path

MANIFEST_FORMAT = "wav2vec2-node-model/1"


def manifest_path_for(model_path: Path) -> Path:
    """`dir/name.pt` -> `dir/name.json` (lib/model/manifest.ts manifestPathFor)."""
    return model_path.with_suffix(".json") if model_path.suffix else Path(str(model_path) + ".json")


def receptive_field(conv_layers) -> int:
    """Samples seen by one output frame of a stack of (kernel, stride) convolutions."""
    field, jump = 1, 1
    for kernel, stride in conv_layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


def write_manifest(model_path: Path, manifest: dict) -> Path:
    """Writes the manifest beside the model atomically (a reader never sees half a file)."""
    path = manifest_path_for(Path(model_path))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
