"""What torch and transformers read from checkpoint files: the reference side of test/checkpoint/*.test.ts.

    python torch_reference.py tensors FILE...      -> {file: {name: {dtype, shape, values}}}  (torch.load / safe_open)
    python torch_reference.py make-cases DIR       -> writes torch.save files of every layout a state dict can have,
                                                      and malformed ones, into DIR; prints their names
    python torch_reference.py tokenizer DIR...     -> {dir: Wav2Vec2CTCTokenizer's labels, pad id, delimiter, case}
    python torch_reference.py preprocessor DIR...  -> {dir: AutoFeatureExtractor's rate, normalisation, mask}
"""
import io
import json
import os
import pickle
import sys
import zipfile
from collections import OrderedDict

import torch


def tensors(paths):
    out = {}
    for p in paths:
        if p.endswith(".safetensors"):
            from safetensors import safe_open
            with safe_open(p, "pt") as f:
                sd = {k: f.get_tensor(k) for k in f.keys()}
        else:
            sd = torch.load(p, map_location="cpu", weights_only=True)
        out[p] = {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                      "values": v.double().flatten().tolist()} for k, v in sd.items()}
    print(json.dumps(out))


class Crafted:
    """A tensor whose pickle we choose: storage (numel floats), offset, size, stride, and the rebuild args."""

    def __init__(self, key, numel, offset, size, stride, extra=(False, OrderedDict())):
        self.key, self.numel, self.args = key, numel, (offset, size, stride) + extra

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (StorageRef(self.key, self.numel),) + self.args


class StorageRef:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class CraftPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_crafted(path, obj, storages, prefix="archive"):
    """A torch.save-style zip around a pickle we wrote: for malformed tensors torch itself would never save."""
    buf = io.BytesIO()
    CraftPickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", buf.getvalue())
        z.writestr(f"{prefix}/byteorder", "little")
        for key, data in storages.items():
            z.writestr(f"{prefix}/data/{key}", data)
        z.writestr(f"{prefix}/version", "3\n")


class Evil:
    def __reduce__(self):
        return os.system, ("echo this must never run",)


def rezip(src, dst, compress=zipfile.ZIP_STORED, duplicate=None, replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            zout.writestr(info.filename, data)
            if duplicate and info.filename.endswith(duplicate):
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    zout.writestr(info.filename, data)


def make_cases(d):
    torch.manual_seed(0)
    good = {}
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 5), torch.nn.BatchNorm1d(3), torch.nn.Linear(4, 2))
    good["module_state_dict"] = module.state_dict()  # OrderedDict with _metadata, num_batches_tracked (int64)
    base = torch.randn(6, 5)
    good["views"] = {
        "plain": torch.randn(3, 4),
        "offset_view": base[2:],                      # storage offset 10, shares base's storage
        "transposed": base.t(),                        # strides (1, 5)
        "column": base[:, 3],                          # offset 3, stride 5
        "expanded": torch.randn(4, 1).expand(4, 3),    # stride 0
        "base": base,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }
    good["dtypes"] = {"half": torch.randn(7).half(), "bf16": torch.randn(2, 3).bfloat16(),
                      "double": torch.randn(5).double(), "float": torch.randn(1, 1, 4)}
    good["parameters"] = {"w": torch.nn.Parameter(torch.randn(3, 2)), "b": torch.nn.Parameter(torch.randn(2), requires_grad=False)}
    for name, obj in good.items():
        torch.save(obj, os.path.join(d, f"{name}.pth"))
    bad = {}
    torch.save({"x": torch.randn(3)}, os.path.join(d, "legacy.pth"), _use_new_zipfile_serialization=False)
    bad["legacy"] = "legacy.pth"
    torch.save({"x": Evil()}, os.path.join(d, "evil.pth"))
    bad["evil"] = "evil.pth"
    torch.save({"x": torch.randn(3), "n": 3}, os.path.join(d, "not_tensor.pth"))
    bad["not_tensor"] = "not_tensor.pth"
    torch.save({"m": {"x": torch.randn(3)}}, os.path.join(d, "nested.pth"))
    bad["nested"] = "nested.pth"
    torch.save({"i": torch.arange(4)}, os.path.join(d, "int_weight.pth"))
    bad["int_weight"] = "int_weight.pth"
    plain = os.path.join(d, "views.pth")
    rezip(plain, os.path.join(d, "deflated.pth"), compress=zipfile.ZIP_DEFLATED)
    bad["deflated"] = "deflated.pth"
    rezip(plain, os.path.join(d, "duplicate.pth"), duplicate="data.pkl")
    bad["duplicate"] = "duplicate.pth"
    rezip(plain, os.path.join(d, "short_storage.pth"), replace=("data/0", b"\0" * 8))
    bad["short_storage"] = "short_storage.pth"
    four = {"0": b"\0" * 16}
    write_crafted(os.path.join(d, "crafted_ok.pth"), {"t": Crafted("0", 4, 1, (3,), (1,))}, four)
    write_crafted(os.path.join(d, "past_end.pth"), {"t": Crafted("0", 4, 1, (4,), (1,))}, four)
    write_crafted(os.path.join(d, "stride_past_end.pth"), {"t": Crafted("0", 4, 0, (2, 2), (3, 1))}, four)
    write_crafted(os.path.join(d, "offset_past_end.pth"), {"t": Crafted("0", 4, 9, (0,), (1,))}, four)
    write_crafted(os.path.join(d, "missing_storage.pth"), {"t": Crafted("1", 4, 0, (4,), (1,))}, four)
    write_crafted(os.path.join(d, "hooks.pth"), {"t": Crafted("0", 4, 0, (4,), (1,), (False, OrderedDict(a=1)))}, four)
    for name in ["past_end", "stride_past_end", "offset_past_end", "missing_storage", "hooks"]:
        bad[name] = f"{name}.pth"
    print(json.dumps({"good": {k: f"{k}.pth" for k in good} | {"crafted_ok": "crafted_ok.pth"}, "bad": bad}))


def tokenizer(dirs):
    from transformers import Wav2Vec2CTCTokenizer
    out = {}
    for d in dirs:
        t = Wav2Vec2CTCTokenizer.from_pretrained(d)
        out[d] = {"labels": t.convert_ids_to_tokens(list(range(len(t)))), "blank": t.pad_token_id,
                  "wordDelimiter": t.word_delimiter_token, "lowerCase": bool(t.do_lower_case)}
    print(json.dumps(out))


def preprocessor(dirs):
    from transformers import AutoFeatureExtractor
    out = {}
    for d in dirs:
        f = AutoFeatureExtractor.from_pretrained(d)
        out[d] = {"sampleRate": f.sampling_rate, "normalize": bool(f.do_normalize),
                  "attentionMask": bool(f.return_attention_mask)}
    print(json.dumps(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"tensors": tensors, "make-cases": lambda a: make_cases(a[0]), "tokenizer": tokenizer,
     "preprocessor": preprocessor}[cmd](args)
