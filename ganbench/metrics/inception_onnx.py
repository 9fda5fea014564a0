"""pytorch-fid's FID Inception (BN folded) as an onnxruntime session: the fast CPU path.

onnxruntime runs this network ~2-3x faster than torch on a small CPU. The graph is written
directly from the module's layers (Conv+Relu, the two pools, Concat), which takes well under
a second, so nothing is exported by torch.onnx (tens of seconds) or cached on disk. Every
process checks the session's features against the reference before use (inception.py).
"""
from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

OPSET = 17


class _Graph:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def op(self, kind: str, inputs: list[str], **attrs) -> str:
        out = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def conv(self, m: nn.Module, x: str) -> str:
        """A BN-folded BasicConv2d: conv (with bias) + ReLU."""
        c = m.conv
        if not isinstance(m.bn, nn.Identity) or c.bias is None:
            raise ValueError("fold the BatchNorms (inception.fold_bn) before building the ONNX graph")
        w, b = self._name("w"), self._name("b")
        self.inits += [numpy_helper.from_array(c.weight.detach().cpu().numpy(), w),
                       numpy_helper.from_array(c.bias.detach().cpu().numpy(), b)]
        (ph, pw), (sh, sw) = c.padding, c.stride
        y = self.op("Conv", [x, w, b], kernel_shape=list(c.kernel_size), strides=[sh, sw], pads=[ph, pw, ph, pw])
        return self.op("Relu", [y])

    def max_pool(self, x: str, stride: int, pad: int = 0) -> str:
        return self.op("MaxPool", [x], kernel_shape=[3, 3], strides=[stride] * 2, pads=[pad] * 4)

    def avg_pool(self, x: str) -> str:  # F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), as TF
        return self.op("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4, count_include_pad=0)

    def cat(self, xs: list[str]) -> str:
        return self.op("Concat", xs, axis=1)

    def chain(self, x: str, *convs: nn.Module) -> str:
        for m in convs:
            x = self.conv(m, x)
        return x


def _block(g: _Graph, m: nn.Module, x: str) -> str:
    """One Mixed block, following pytorch-fid's/torchvision's forward for its class."""
    kind = type(m).__name__
    if kind == "FIDInceptionA":
        return g.cat([g.conv(m.branch1x1, x), g.chain(x, m.branch5x5_1, m.branch5x5_2),
                      g.chain(x, m.branch3x3dbl_1, m.branch3x3dbl_2, m.branch3x3dbl_3),
                      g.conv(m.branch_pool, g.avg_pool(x))])
    if kind == "InceptionB":
        return g.cat([g.conv(m.branch3x3, x), g.chain(x, m.branch3x3dbl_1, m.branch3x3dbl_2, m.branch3x3dbl_3),
                      g.max_pool(x, 2)])
    if kind == "FIDInceptionC":
        return g.cat([g.conv(m.branch1x1, x), g.chain(x, m.branch7x7_1, m.branch7x7_2, m.branch7x7_3),
                      g.chain(x, m.branch7x7dbl_1, m.branch7x7dbl_2, m.branch7x7dbl_3, m.branch7x7dbl_4,
                              m.branch7x7dbl_5),
                      g.conv(m.branch_pool, g.avg_pool(x))])
    if kind == "InceptionD":
        return g.cat([g.chain(x, m.branch3x3_1, m.branch3x3_2),
                      g.chain(x, m.branch7x7x3_1, m.branch7x7x3_2, m.branch7x7x3_3, m.branch7x7x3_4),
                      g.max_pool(x, 2)])
    if kind in ("FIDInceptionE_1", "FIDInceptionE_2"):
        b3 = g.conv(m.branch3x3_1, x)
        d3 = g.chain(x, m.branch3x3dbl_1, m.branch3x3dbl_2)
        pool = g.avg_pool(x) if kind == "FIDInceptionE_1" else g.max_pool(x, 1, 1)  # E_2: TF's max pool
        return g.cat([g.conv(m.branch1x1, x), g.cat([g.conv(m.branch3x3_2a, b3), g.conv(m.branch3x3_2b, b3)]),
                      g.cat([g.conv(m.branch3x3dbl_3a, d3), g.conv(m.branch3x3dbl_3b, d3)]),
                      g.conv(m.branch_pool, pool)])
    raise ValueError(f"unexpected block {kind} in the FID Inception")


def build_model(blocks: nn.ModuleList) -> onnx.ModelProto:
    """pytorch-fid InceptionV3([3]).blocks (BN folded) -> ONNX: 'x' (B, 3, 299, 299) in [-1, 1]
    -> 'features' (B, 2048), the pool3 output."""
    g = _Graph()
    x = "x"
    for block in blocks:
        for m in block:
            if type(m).__name__ == "BasicConv2d":
                x = g.conv(m, x)
            elif isinstance(m, nn.MaxPool2d):
                x = g.max_pool(x, m.stride)
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                x = g.op("GlobalAveragePool", [x])
            else:
                x = _block(g, m, x)
    g.nodes.append(helper.make_node("Flatten", [x], ["features"], axis=1))
    graph = helper.make_graph(
        g.nodes, "fid_inception_pool3",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 299, 299])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 2048])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ganbench")
    model.ir_version = min(model.ir_version, 8)  # what onnxruntime releases of the last years all read
    return model


class OrtInception:
    """Callable: (B, 3, 299, 299) float32 CPU tensor in [-1, 1] -> (B, 2048) tensor."""

    def __init__(self, blocks: nn.ModuleList, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)  # torch.get_num_threads(): one knob for both
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(build_model(blocks).SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        self.name = f"onnxruntime {ort.__version__} CPU"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(["features"], {"x": x})[0])
