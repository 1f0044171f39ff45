"""Speaker labels: who said what, offline, with voices remembered across files.

features.py (log-mel features in numpy), diarize.py (VAD, CAM++ voice embeddings on
onnxruntime, turns), cluster.py (spectral clustering), assign.py (turns onto segments and
words), names.py (labels, and names people gave to voices). Nothing here needs torch.
"""
