"""The logits of a Hugging Face CTC model as a plain tensor: forward(waveforms) -> logits, the signature a trace
or an ONNX export records (Hugging Face's own forward returns a ModelOutput). Used by scripts/export_onnx.py and
scripts/make_default_model/export.py's check."""
import torch


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, waveforms):
        return self.model(waveforms).logits
