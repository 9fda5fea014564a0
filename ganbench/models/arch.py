"""Network descriptions: G and D as a list of layers, built by one builder.

A description is data, not code: the default `dcgan`/`wgan`/`mlp` layouts are functions
that return descriptions, the seeds' layouts are named descriptions in ARCHS, and users
write their own in config (`model.g_layers`, `model.d_layers`). The families in MODELS
(dcgan, cdcgan, infogan, mlp, ...) only add conditioning and heads around the built nets.

One layer is one short string, layers separated by ',' (or ';'):

    convT 8w k4 s1 p0 bn relu      transposed conv, 8 x ngf channels, kernel 4, stride 1, pad 0
    conv 64 k5 s2 p2 lrelu0.3 drop0.4
    convT 4w k5 s2 p2 o1 bn relu   output padding 1: k5 stride 2 doubles the size (Keras 'same')
    linear 128@7 bn relu           linear to 128 x 7 x 7, reshaped to a 7x7 map for the next conv
    convT k4 s2 p1 tanh nobias     the output layer: no width (the image's channels; 1 logit in D)
    conv 2w sn lrelu0.2            spectral norm on the weight (D only; model.d_spectral_norm marks all)
    mbstd g4                       minibatch standard deviation over groups of 4: one more channel
                                   (D only, before its output layer; model.d_mbstd adds it)

Widths: `N` channels/units, or `Nw` = N x the base width (ngf in G, ndf in D; `0.5w` allowed).
Defaults: k4 s2 p1, no BatchNorm, no activation, no dropout, bias unless BatchNorm follows.
Each layer runs op -> BatchNorm -> activation -> dropout. Activations in G are in-place;
in D they are not (D is differentiated twice for the gradient penalty).

Spectral norm (Miyato et al. 2018, torch's parametrization: one power iteration per training
forward) divides a D layer's weight by its largest singular value, so each layer is at most
1-Lipschitz. It replaces BatchNorm in D, as in SNGAN and StudioGAN (whose D blocks skip BN
when SN is on): BN's per-batch rescaling undoes the bound and mixes real and fake batches.
So `sn` and `bn` in one D layer are refused, and model.d_spectral_norm drops the BN of the
family's own D layout (dcgan's D becomes wgan's, normalised). G takes no `sn` here: G is what
gets exported, and nothing here has measured SN in G (BigGAN / SAGAN use it there).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import replace
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.errors import ConfigError
from ganbench.models.mbstd import MinibatchStd
from ganbench.registry import Registry

OPS = ("conv", "convT", "linear", "mbstd")
MBSTD_GROUP = 4  # ProGAN's and StyleGAN2's group size
ACTS = ("none", "relu", "lrelu", "tanh")
INITS = ("dcgan", "default")


@dataclass(frozen=True)
class Layer:
    op: str  # conv | convT | linear
    width: int = 0  # out channels / units; 0 on the output layer (image channels in G, 1 logit in D)
    size: int = 0  # linear followed by a conv: reshape to (width, size, size)
    kernel: int = 4
    stride: int = 2
    padding: int = 1
    out_pad: int = 0  # convT output_padding: k5 s2 p2 o1 doubles the size (Keras' padding='same')
    bn: bool = False
    act: str = "none"  # none | relu | lrelu | tanh
    slope: float = 0.2  # lrelu negative slope
    dropout: float = 0.0
    bias: bool = True
    sn: bool = False  # spectral norm on the weight (D only)
    group: int = 0  # mbstd: images per group

    def text(self) -> str:
        if self.op == "mbstd":
            return f"mbstd g{self.group}"
        parts = [self.op]
        if self.width:
            parts.append(f"{self.width}@{self.size}" if self.size else str(self.width))
        if self.op != "linear":
            parts += [f"k{self.kernel}", f"s{self.stride}", f"p{self.padding}"]
            if self.out_pad:
                parts.append(f"o{self.out_pad}")
        if self.bn:
            parts.append("bn")
        if self.sn:
            parts.append("sn")
        if self.act != "none":
            parts.append(f"lrelu{self.slope:g}" if self.act == "lrelu" else self.act)
        if self.dropout:
            parts.append(f"drop{self.dropout:g}")
        if self.bias == self.bn:  # say it only when it is not the default
            parts.append("bias" if self.bias else "nobias")
        return " ".join(parts)


@dataclass(frozen=True)
class Arch:
    """G from z to image, D from image to one logit; init: dcgan (N(0, 0.02) convs, N(1, 0.02)
    BatchNorm scales) or default (PyTorch's own)."""
    g: tuple[Layer, ...]
    d: tuple[Layer, ...]
    init: str = "dcgan"
    src: tuple[str, str] = ("G", "D")  # where each came from, for error messages


# ---------------------------------------------------------------- text <-> layers

_WIDTH = re.compile(r"^(\d+(?:\.\d+)?)(w?)(?:@(\d+))?$")


def parse_layer(text: str, base: int, where: str) -> Layer:
    """'convT 8w k4 s1 p0 bn relu' -> Layer (widths resolved against base = ngf or ndf)."""
    tokens = text.split()
    if not tokens or tokens[0] not in OPS:
        raise ConfigError(f"{where}: {text.strip()!r} must start with one of {', '.join(OPS)}")
    kw: dict = {"op": tokens[0]}
    bias: Optional[bool] = None
    for tok in tokens[1:]:
        m = _WIDTH.match(tok)
        try:
            if m:
                num, rel, size = m.groups()
                kw["width"] = int(round(float(num) * base)) if rel else int(float(num))
                if size:
                    kw["size"] = int(size)
            elif re.fullmatch(r"[kspog]\d+", tok):
                kw[{"k": "kernel", "s": "stride", "p": "padding", "o": "out_pad", "g": "group"}[tok[0]]] = int(tok[1:])
            elif tok in ("bn", "sn"):
                kw[tok] = True
            elif tok in ("relu", "tanh", "none"):
                kw["act"] = tok
            elif tok.startswith("lrelu"):
                kw["act"] = "lrelu"
                if tok[5:]:
                    kw["slope"] = float(tok[5:])
            elif tok.startswith("drop"):
                kw["dropout"] = float(tok[4:])
            elif tok in ("bias", "nobias"):
                bias = tok == "bias"
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"{where}: unknown token {tok!r} in {text.strip()!r} (expected a width N, Nw or N@SIZE, "
                "kN sN pN oN, bn, sn, relu, lreluSLOPE, tanh, dropRATE, bias, nobias; mbstd takes gN)"
            ) from None
    kw["bias"] = (not kw.get("bn", False)) if bias is None else bias
    if kw["op"] == "mbstd":
        kw.setdefault("group", MBSTD_GROUP)
    return Layer(**kw)


def parse_layers(text: str, base: int, where: str) -> tuple[Layer, ...]:
    items = [t for t in re.split(r"[,;]", text) if t.strip()]
    if not items:
        raise ConfigError(f"{where}: no layers given")
    return tuple(parse_layer(t, base, f"{where} layer {i}") for i, t in enumerate(items, 1))


def layers_text(layers: tuple[Layer, ...]) -> str:
    return ", ".join(layer.text() for layer in layers)


# ---------------------------------------------------------------- the built-in layouts

# resolution -> (start size, number of x2 steps from start to the image)
PLANS = {28: (7, 2), 32: (4, 3), 64: (4, 4), 128: (4, 5), 256: (4, 6)}


def plan(model: str, image_shape: tuple[int, int, int]) -> tuple[int, int]:
    _, h, w = image_shape
    if h != w or h not in PLANS:
        raise ConfigError(
            f"model={model} supports square images of {', '.join(map(str, PLANS))} px, "
            f"got {h}x{w} (use model=mlp, or describe the layers with model.g_layers / model.d_layers)"
        )
    return PLANS[h]


def dcgan_arch(model: str, image_shape, ngf: int, ndf: int, bn_d: bool = True) -> Arch:
    """The DCGAN paper's G and D (exactly so at 64 px): 28 px starts at 7x7 with one k7
    transposed conv, the others at 4x4; widths halve towards the image (capped at 8x ngf/ndf).
    bn_d=False is the WGAN-GP critic (BatchNorm mixes the batch; the penalty is per sample)."""
    start, n = plan(model, image_shape)
    widths = [ngf * min(8, 2 ** (n - 1 - i)) for i in range(n)]
    g = [Layer("convT", widths[0], kernel=start, stride=1, padding=0, bn=True, act="relu", bias=False)]
    g += [Layer("convT", w, bn=True, act="relu", bias=False) for w in widths[1:]]
    g.append(Layer("convT", act="tanh", bias=False))
    d = []
    for i in range(n):
        norm = bn_d and i > 0  # no BN on the layer that sees pixels
        d.append(Layer("conv", ndf * min(8, 2**i), bn=norm, act="lrelu", slope=0.2, bias=not norm))
    d.append(Layer("conv", kernel=start, stride=1, padding=0))
    return Arch(tuple(g), tuple(d), "dcgan")


def mlp_arch(ngf: int, ndf: int) -> Arch:
    """The classic fully connected MNIST GAN: 8x/16x/32x ngf (256-512-1024 at ngf=32), D mirrored
    with Dropout 0.3 and no BatchNorm (so it is also a WGAN-GP critic); PyTorch's default init."""
    lr = dict(act="lrelu", slope=0.2)
    g = (Layer("linear", 8 * ngf, **lr), Layer("linear", 16 * ngf, bn=True, bias=True, **lr),
         Layer("linear", 32 * ngf, bn=True, bias=True, **lr), Layer("linear", act="tanh"))
    d = (Layer("linear", 32 * ndf, dropout=0.3, **lr), Layer("linear", 16 * ndf, dropout=0.3, **lr),
         Layer("linear", 8 * ndf, dropout=0.3, **lr), Layer("linear"))
    return Arch(g, d, "default")


@dataclass(frozen=True)
class NamedArch:
    g: str  # layer text, widths in w = ngf
    d: str  # layer text, widths in w = ndf
    init: str
    note: str


ARCHS: Registry[NamedArch] = Registry("model.arch")


def resolve_arch(cfg, image_shape, default: Callable[[], Arch]) -> Arch:
    """The description cfg (a ModelConfig) asks for: model.arch (a name in ARCHS, or '' for
    the family's own layout), then model.g_layers / model.d_layers / model.init on top."""
    if cfg.arch:
        named = ARCHS.get(cfg.arch)
        g_text, d_text, init = named.g, named.d, named.init
        src = (f"model.arch={cfg.arch} G", f"model.arch={cfg.arch} D")
        arch = Arch(parse_layers(g_text, cfg.ngf, src[0]), parse_layers(d_text, cfg.ndf, src[1]), init, src)
    elif cfg.g_layers and cfg.d_layers:
        arch = Arch((), (), "dcgan")  # both given: the family's layout is not needed
    else:
        arch = default()
    g = parse_layers(cfg.g_layers, cfg.ngf, "model.g_layers") if cfg.g_layers else arch.g
    d = parse_layers(cfg.d_layers, cfg.ndf, "model.d_layers") if cfg.d_layers else arch.d
    if cfg.d_spectral_norm:
        d = spectral_d(d, family=not cfg.arch and not cfg.d_layers)
    if cfg.d_mbstd and len(d) > 1 and d[-2].op == "linear":
        raise ConfigError("model.d_mbstd adds a feature map to D's last conv layer, and this D's body ends in "
                          "a linear layer (a fully connected D such as mlp's): drop model.d_mbstd")
    if cfg.d_mbstd and not any(layer.op == "mbstd" for layer in d):
        d = d[:-1] + (Layer("mbstd", group=MBSTD_GROUP),) + d[-1:]  # before the output layer, as ProGAN
    init = cfg.init or arch.init
    if init not in INITS:
        raise ConfigError(f"model.init must be one of {', '.join(INITS)}, got {init!r}")
    src = ("model.g_layers" if cfg.g_layers else arch.src[0], "model.d_layers" if cfg.d_layers else arch.src[1])
    return Arch(g, d, init, src)


def spectral_d(layers: tuple[Layer, ...], family: bool) -> tuple[Layer, ...]:
    """Every D layer with spectral norm (model.d_spectral_norm). The family's own layout loses
    its BatchNorm and gets back the bias BN made redundant (dcgan's D becomes wgan's); a
    written description keeps what it says, and check_arch refuses bn with sn there."""
    if family:
        layers = tuple(replace(layer, bn=False, bias=True) if layer.bn else layer for layer in layers)
    return tuple(replace(layer, sn=True) for layer in layers)


# ---------------------------------------------------------------- shapes and building


def _out_size(layer: Layer, n: int) -> int:
    k, s, p = layer.kernel, layer.stride, layer.padding
    if layer.op == "convT":
        return (n - 1) * s - 2 * p + k + layer.out_pad
    return (n + 2 * p - k) // s + 1


def _check_layer(layer: Layer, where: str) -> None:
    if layer.act not in ACTS:
        raise ConfigError(f"{where}: activation must be one of {', '.join(ACTS)}, got {layer.act!r}")
    if layer.op not in OPS:
        raise ConfigError(f"{where}: op must be one of {', '.join(OPS)}, got {layer.op!r}")
    if layer.op == "mbstd" and (layer.group < 1 or layer.width or layer.bn or layer.sn or layer.act != "none"
                                or layer.dropout):
        raise ConfigError(f"{where}: mbstd takes only a group size gN (N >= 1), as in 'mbstd g4'")
    if layer.group and layer.op != "mbstd":
        raise ConfigError(f"{where}: gN (a group size) is for mbstd layers")
    if layer.kernel < 1 or layer.stride < 1 or layer.padding < 0 or layer.width < 0 or layer.size < 0:
        raise ConfigError(f"{where}: kernel and stride must be >= 1, padding and width >= 0 ({layer.text()})")
    if layer.out_pad and (layer.op != "convT" or layer.out_pad >= layer.stride):
        raise ConfigError(f"{where}: output padding (o) is for convT layers and must be below the stride")
    if not 0 <= layer.dropout < 1:
        raise ConfigError(f"{where}: dropout must be in [0, 1), got {layer.dropout}")
    if layer.size and layer.op != "linear":
        raise ConfigError(f"{where}: WIDTH@SIZE reshapes a linear layer's output; {layer.op} makes maps already")


def trace(layers: tuple[Layer, ...], in_shape: tuple, out_shape: tuple, where: str) -> list[tuple]:
    """Shapes after each layer, from in_shape ((n,) flat or (c, h, w)) to out_shape; raises a
    one-line ConfigError naming the layer that cannot get there."""
    shapes = []
    shape = tuple(in_shape)
    last = len(layers)
    for i, layer in enumerate(layers, 1):
        name = f"{where} layer {i}/{last} ({layer.text()})"
        _check_layer(layer, name)
        if layer.op == "mbstd":
            if i == last or len(shape) != 3:
                raise ConfigError(f"{name}: mbstd reads a feature map and adds one channel; put it after a "
                                  "conv layer, before the output layer")
            shape = (shape[0] + 1, shape[1], shape[2])
            shapes.append(shape)
            continue
        if i < last and not layer.width:
            raise ConfigError(f"{name}: only the output layer may omit its width")
        if i == last and layer.width and layer.op != "linear" and layer.width != out_shape[0]:
            raise ConfigError(f"{name}: the output layer makes {out_shape[0]} channel(s), not {layer.width}; omit its width")
        if layer.op == "linear":
            units = math.prod(out_shape) if i == last else layer.width * (layer.size ** 2 if layer.size else 1)
            shape = (layer.width, layer.size, layer.size) if layer.size else (units,)
        else:
            if len(shape) == 1 and i > 1:
                raise ConfigError(f"{name}: a conv after a linear layer needs a map: write the linear width as CHANNELS@SIZE")
            c, h = (shape[0], 1) if len(shape) == 1 else (shape[0], shape[1])
            h2 = _out_size(layer, h)
            if h2 < 1:
                raise ConfigError(f"{name} reaches {h2}x{h2} from {h}x{h}: the map vanished")
            shape = (layer.width or out_shape[0], h2, h2)
        if layer.bn and i == last:
            raise ConfigError(f"{name}: no BatchNorm on the output layer")
        shapes.append(shape)
    want = tuple(out_shape)
    if len(want) == 3 and len(shape) == 3 and shape != want:
        raise ConfigError(f"{where} layer {last}/{last} ({layers[-1].text()}) reaches {shape[1]}x{shape[2]}, "
                          f"the image needs {want[1]}x{want[2]}")
    if len(want) == 1 and len(shape) == 3 and shape[1:] != (1, 1):
        raise ConfigError(f"{where} layer {last}/{last} ({layers[-1].text()}) reaches {shape[1]}x{shape[2]}, "
                          "a discriminator must end at 1x1 (one logit per image)")
    return shapes


def _check_sn(arch: Arch) -> None:
    for i, layer in enumerate(arch.g, 1):
        if layer.op == "mbstd":
            raise ConfigError(f"{arch.src[0]} layer {i}/{len(arch.g)} ({layer.text()}): mbstd is for D's layers "
                              "(it lets D see a batch's variety); drop it from G")
        if layer.sn:
            raise ConfigError(f"{arch.src[0]} layer {i}/{len(arch.g)} ({layer.text()}): sn is for D's layers "
                              "(G is what gets exported, and SN in G is not measured here); drop it")
    for i, layer in enumerate(arch.d, 1):
        if layer.sn and layer.bn:
            raise ConfigError(f"{arch.src[1]} layer {i}/{len(arch.d)} ({layer.text()}): spectral norm replaces "
                              "BatchNorm in D (as in SNGAN; BN's batch rescaling undoes SN's bound): drop bn "
                              "from this layer, or drop sn / model.d_spectral_norm")


def check_arch(arch: Arch, in_dim: int, image_shape, d_in_channels: Optional[int] = None) -> None:
    """Validate a description for this image shape without building it."""
    if not arch.g or not arch.d:
        raise ConfigError("a description needs G and D layers (model.g_layers and model.d_layers)")
    _check_sn(arch)
    c, h, w = image_shape
    if arch.g[-1].op == "linear" and h != w and arch.g[-1].size:
        raise ConfigError("model.g_layers: the output layer cannot reshape")
    trace(arch.g, (in_dim,), (c, h, w) if arch.g[-1].op != "linear" else (c * h * w,), arch.src[0])
    d_in = (d_in_channels or c, h, w)
    if arch.d[0].op == "linear":
        d_in = (math.prod(d_in),)
    trace(arch.d, d_in, (1,), arch.src[1])
    if arch.d[-1].act != "none" or arch.d[-1].dropout:
        raise ConfigError(f"{arch.src[1]} layer {len(arch.d)}/{len(arch.d)} ({arch.d[-1].text()}): D's output layer gives raw "
                          "logits (the loss applies any sigmoid); drop its activation and dropout")


def _act(layer: Layer, inplace: bool) -> list[nn.Module]:
    if layer.act == "relu":
        return [nn.ReLU(inplace)]
    if layer.act == "lrelu":
        return [nn.LeakyReLU(layer.slope, inplace)]
    if layer.act == "tanh":
        return [nn.Tanh()]
    return []


def build_layers(layers: tuple[Layer, ...], in_shape: tuple, out_shape: tuple, inplace: bool,
                 where: str) -> list[nn.Module]:
    """Modules in order. A flat input to a first conv is the caller's to reshape (z -> (z, 1, 1));
    the caller also views a linear G's output as the image."""
    shapes = trace(layers, in_shape, out_shape, where)
    mods: list[nn.Module] = []
    prev = tuple(in_shape)
    for i, (layer, shape) in enumerate(zip(layers, shapes)):
        if layer.op == "mbstd":
            mods.append(MinibatchStd(layer.group))
            prev = shape
            continue
        if layer.op == "linear":
            if len(prev) == 3:
                mods.append(nn.Flatten())
            units = math.prod(shape)
            mods.append(nn.Linear(math.prod(prev), units, bias=layer.bias))
            bn = nn.BatchNorm1d(units) if layer.bn else None
        else:
            conv = nn.ConvTranspose2d if layer.op == "convT" else nn.Conv2d
            extra = {"output_padding": layer.out_pad} if layer.out_pad else {}
            mods.append(conv(prev[0], shape[0], layer.kernel, layer.stride, layer.padding, bias=layer.bias, **extra))
            bn = nn.BatchNorm2d(shape[0]) if layer.bn else None
        if layer.sn:
            spectral_norm(mods[-1])  # in place: .weight becomes weight / sigma, the raw one is stored
        if bn is not None:
            mods.append(bn)
        mods += _act(layer, inplace)
        if layer.dropout:
            mods.append(nn.Dropout(layer.dropout))
        if layer.size:
            mods.append(nn.Unflatten(1, shape))
        prev = shape
    return mods


def apply_init(arch: Arch, *modules: nn.Module) -> None:
    from ganbench.models.init import dcgan_init

    if arch.init == "dcgan":
        for m in modules:
            m.apply(dcgan_init)
            m.apply(_restart_power_iteration)


@torch.no_grad()
def _restart_power_iteration(m: nn.Module) -> None:
    """A spectrally normalised weight that was just re-initialised gets its singular vectors
    re-converged, as torch's registration does (15 power iterations): its sigma then fits the
    new weight from the first forward, in eval mode too."""
    if not parametrize.is_parametrized(m, "weight"):
        return
    sn, raw = m.parametrizations.weight[0], m.parametrizations.weight.original
    was = sn.training
    sn.train()  # the power iteration runs in training mode only
    for _ in range(15):
        sn(raw)
    sn.train(was)


# ---------------------------------------------------------------- named descriptions from the seeds
# Widths in w (ngf / ndf), so `model.ngf=4` shrinks a seed layout for a test.

ARCHS.add("dcgan28-bn-all", NamedArch(
    g="convT 2w k7 s1 p0 bn relu, convT 1w bn relu, convT tanh nobias",
    d="conv 1w bn lrelu0.2, conv 2w bn lrelu0.2, conv k7 s1 p0",
    init="default",
    note="seed 004 E1: BatchNorm after every D conv, PyTorch's default init; the widths and kernels are "
         "ganbench's 28 px DCGAN (the seed does not state them)",
), "28 px DCGAN with BatchNorm on every D conv and PyTorch's default init (seed 004 E1)")

ARCHS.add("dcgan28-e5", NamedArch(
    g="convT 4w k4 s1 p0 bn relu nobias, convT 2w k3 s2 p1 bn relu nobias, convT 1w k4 s2 p1 bn relu nobias, "
      "convT k4 s2 p1 tanh nobias",
    d="conv 1w k4 s2 p1 lrelu0.2 nobias, conv 2w bn lrelu0.2, conv 4w bn lrelu0.2, conv k3 s1 p0 nobias",
    init="dcgan",
    note="seed 004 E5's stated layout (4x4 start, a k3 s2 layer, k3 head); bias off, LeakyReLU 0.2 and the "
         "DCGAN init are the PyTorch DCGAN tutorial's, which the seed follows but does not state",
), "28 px layout of seed 004 E5: ConvT 4-2-1 x ngf with a k3 layer, D 1-2-4 x ndf with a k3 head")

ARCHS.add("mlp3", NamedArch(
    g="linear 8w relu, linear 16w relu, linear tanh",
    d="linear 16w lrelu0.2, linear 8w lrelu0.2, linear",
    init="default",
    note="seed 004 E9: three fully connected layers each side, ReLU in G, LeakyReLU in D; widths 256-512 "
         "(at ngf=ndf=32) follow from E10, which adds a 1024-unit layer; the 0.2 slope is ganbench's choice",
), "fully connected, 3 layers each side: G 256-512-out ReLU, D 512-256-1 LeakyReLU at ngf=ndf=32 (seed 004 E9)")

ARCHS.add("mlp4", NamedArch(
    g="linear 8w relu, linear 16w relu, linear 32w relu, linear tanh",
    d="linear 32w lrelu0.2, linear 16w lrelu0.2, linear 8w lrelu0.2, linear",
    init="default",
    note="seed 004 E10: E9 plus a 1024-unit layer before G's output and at the start of D; no BatchNorm "
         "or dropout (the seed names none); the 0.2 slope is ganbench's choice",
), "fully connected, E9 + 1024-unit layers: G 256-512-1024, D 1024-512-256 at ngf=ndf=32 (seed 004 E10)")

ARCHS.add("infogan-mnist", NamedArch(
    g="linear 1024 bn relu, linear 128@7 bn relu, convT 64 k4 s2 p1 bn relu, convT k4 s2 p1 tanh",
    d="conv 64 k4 s2 p1 lrelu0.1, conv 128 k4 s2 p1 bn lrelu0.1, linear 1024 bn lrelu0.1, linear",
    init="dcgan",
    note="the InfoGAN paper's MNIST table (28 px), which seed 000 names as its model's source; fixed "
         "widths (ngf/ndf do not scale it); Tanh output because ganbench images are in [-1, 1]",
), "28 px InfoGAN-paper layout: FC 1024 -> FC 7x7x128 -> upconv 64 -> image; D conv 64-128 -> FC 1024 -> 1")
