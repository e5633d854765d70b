"""pipec's layers, randomness, data feed and optimizers in PyTorch.

Written by `pipec export FILE.pipe --torch DIR` beside train.py and model.py.
Every function here computes what pipec's TensorFlow.js runtime computes
(runtime/layers/, runtime/random.ts, runtime/data/, runtime/optimizers.ts),
with pipec's parameter layout (a Dense kernel is [in, units], a Conv2D
kernel [kh, kw, in, out], images NHWC), so the initial weights pipec wrote
load without transposes and gradients compare parameter by parameter, under
pipec's names (`fc1/kernel`, `block[0]/attention/qkv/bias`, ...).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ───────────────────────── safetensors (read and write) ─────────────────────────
# The format is an 8-byte little-endian header length, a JSON header and the
# raw little-endian data; a few lines here spare the `safetensors` package.

_DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "F64": np.float64}


def read_safetensors(path):
    """Name → numpy array (a copy, writable)."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    data = memoryview(blob)[8 + length:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<"))
        out[name] = array.reshape(entry["shape"]).copy()
    return out


def write_safetensors(path, arrays):
    """Writes name → float32 numpy array, names sorted."""
    header, chunks, offset = {}, [], 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name], dtype="<f4")
        raw = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ───────────────────────── pipec's randomness (runtime/random.ts) ─────────────────────────
_MASK = 0xFFFFFFFF


def hash_key(seed, *parts):
    """32-bit FNV-1a over the parts (each followed by a NUL), mixed with a seed."""
    h = (0x811C9DC5 ^ (int(seed) & _MASK)) & _MASK
    for part in parts:
        text = (str(int(part)) if isinstance(part, (int, np.integer)) else str(part)) + "\u0000"
        encoded = text.encode("utf-16-le")  # JavaScript's charCodeAt reads UTF-16 code units
        for unit in struct.unpack(f"<{len(encoded) // 2}H", encoded):
            h ^= unit
            h = (h * 0x01000193) & _MASK
    return h


def mulberry32(seed, count):
    """The first `count` draws of pipec's mulberry32 from `seed`, as float64 in [0, 1).
    Draw k's state is seed + (k + 1)·0x6D2B79F5, so all draws come at once."""
    state = (np.uint64(int(seed) & _MASK) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x6D2B79F5)) & np.uint64(_MASK)
    m = np.uint64(_MASK)
    t = state
    t = ((t ^ (t >> np.uint64(15))) * (t | np.uint64(1))) & m
    t = (t ^ ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & m)) & m)) & m
    return ((t ^ (t >> np.uint64(14))) & m).astype(np.float64) / 4294967296.0


def seeded_permutation(n, seed):
    """Fisher-Yates permutation of 0..n-1, as pipec's seededPermutation."""
    order = np.arange(n, dtype=np.int64)
    draws = mulberry32(seed, max(n - 1, 0))
    for k, i in enumerate(range(n - 1, 0, -1)):
        j = int(math.floor(draws[k] * (i + 1)))
        order[i], order[j] = order[j], order[i]
    return order


# ───────────────────────── the data feed (runtime/data/index.ts) ─────────────────────────
class BatchFeed:
    """The examples of each step, in pipec's order: epochs of a seeded shuffle
    of the training examples, consumed in order, so step k trains on what
    `pipec train` trains on at step k, for any number of steps."""

    def __init__(self, data_path, program):
        arrays = read_safetensors(data_path)
        self.inputs, self.targets = arrays["train/input"], arrays["train/target"]
        self.size = self.inputs.shape[0]
        self.seed = program["seed"]
        self.batch = program["microbatchSize"] * program["microbatches"] * program["replicas"]
        self.input_shape, self.target_shape = program["input"]["shape"], program["target"]["shape"]
        self.data = program.get("data") or {"name": "synthetic", "args": {}}
        self._epochs = {}

    def _permutation(self, epoch):
        if epoch not in self._epochs:
            if len(self._epochs) > 2:
                self._epochs.clear()
            self._epochs[epoch] = seeded_permutation(self.size, hash_key(self.seed, "epoch", epoch))
        return self._epochs[epoch]

    def step(self, step):
        """(input, target) numpy arrays of the step's global batch."""
        positions = [step * self.batch + i for i in range(self.batch)]
        indices = np.array([self._permutation(p // self.size)[p % self.size] for p in positions])
        x = self.inputs[indices].reshape([self.batch, *self.input_shape])
        y = self.targets[indices].reshape([self.batch, *self.target_shape])
        shift = int(self.data["args"].get("shift", 0)) if self.data["name"] == "mnist" else 0
        if shift > 0:
            x = _shift_digits(x, positions, shift, int(self.data["args"].get("seed", 0)))
        return x, y


def _shift_digits(images, positions, max_shift, seed):
    """runtime/data/mnist.ts: each visit of a training digit moved by up to
    `max_shift` pixels, drawn from (seed, its place in the stream)."""
    flat = images.reshape(len(positions), 28, 28)
    out = np.zeros_like(flat)
    for i, position in enumerate(positions):
        r = mulberry32(hash_key(seed, "shift", position), 2)
        dx = int(math.floor(r[0] * (2 * max_shift + 1))) - max_shift
        dy = int(math.floor(r[1] * (2 * max_shift + 1))) - max_shift
        ys, yt = (slice(0, 28 - dy), slice(dy, 28)) if dy >= 0 else (slice(-dy, 28), slice(0, 28 + dy))
        xs, xt = (slice(0, 28 - dx), slice(dx, 28)) if dx >= 0 else (slice(-dx, 28), slice(0, 28 + dx))
        out[i, yt, xt] = flat[i, ys, xs]
    return out.reshape(images.shape)


# ───────────────────────── layers (runtime/layers/) ─────────────────────────
class RunContext:
    """What dropout masks depend on besides the layer: (seed, step, index of
    the microbatch's first example in the step's batch). The stage sets it
    before each forward; recomputation passes the forward's copy along."""

    def __init__(self, seed, step=0, example_offset=0, training=True):
        self.seed, self.step, self.example_offset, self.training = seed, step, example_offset, training


class PipecLayer(nn.Module):
    """A layer whose parameters carry pipec's names (`pipec_names`: attribute → name)."""

    def __init__(self, name):
        super().__init__()
        self.pipec_name = name
        self.pipec_names = {}

    def add_parameter(self, attribute, local, shape):
        self.register_parameter(attribute, nn.Parameter(torch.zeros(shape)))
        self.pipec_names[attribute] = f"{self.pipec_name}/{local}"

    def run(self, x, context):
        raise NotImplementedError


def pipec_parameters(module):
    """pipec name → Parameter, over every layer inside `module`."""
    out = {}
    for layer in module.modules():
        if isinstance(layer, PipecLayer):
            for attribute, name in layer.pipec_names.items():
                out[name] = getattr(layer, attribute)
    return out


def activate(name, x):
    """runtime/layers/activation.ts: relu, GELU with the tanh approximation, tanh."""
    if name == "relu":
        return F.relu(x)
    if name == "gelu":
        return F.gelu(x, approximate="tanh")
    if name == "tanh":
        return torch.tanh(x)
    if name == "none":
        return x
    raise ValueError(f"unknown activation '{name}'")


class Dense(PipecLayer):
    """y = act(x·W + b) over the last dimension; W is [in, units]."""

    def __init__(self, name, in_features, units, activation="none", bias=True):
        super().__init__(name)
        self.activation, self.bias_used = activation, bias
        self.add_parameter("kernel", "kernel", (in_features, units))
        if bias:
            self.add_parameter("bias", "bias", (units,))

    def run(self, x, context):
        z = x @ self.kernel
        if self.bias_used:
            z = z + self.bias
        return activate(self.activation, z)


class Embedding(PipecLayer):
    def __init__(self, name, vocab, dim):
        super().__init__(name)
        self.add_parameter("table", "table", (vocab, dim))

    def run(self, x, context):
        return F.embedding(x.long(), self.table)


class LayerNorm(PipecLayer):
    """Over the last dimension, biased variance, eps inside the square root."""

    def __init__(self, name, features, eps):
        super().__init__(name)
        self.eps = eps
        self.add_parameter("gamma", "gamma", (features,))
        self.add_parameter("beta", "beta", (features,))

    def run(self, x, context):
        return F.layer_norm(x, (x.shape[-1],), self.gamma, self.beta, self.eps)


class Activation(PipecLayer):
    def __init__(self, name, activation):
        super().__init__(name)
        self.activation = activation

    def run(self, x, context):
        return activate(self.activation, x)


class Softmax(PipecLayer):
    def run(self, x, context):
        return torch.softmax(x, dim=-1)


class Flatten(PipecLayer):
    def run(self, x, context):
        return x.reshape(x.shape[0], -1)


class Dropout(PipecLayer):
    """runtime/layers/dropout.ts: the mask of each example depends only on
    (seed, layer, step, the example's index in the step's batch), so it is
    pipec's mask, whatever the schedule or recomputation."""

    def __init__(self, name, rate):
        super().__init__(name)
        self.rate = rate

    def run(self, x, context):
        if not context.training or self.rate <= 0:
            return x
        per_example = int(np.prod(x.shape[1:]))
        keep = float(np.float32(1 / (1 - self.rate)))
        rows = []
        for example in range(x.shape[0]):
            draws = mulberry32(hash_key(context.seed, "dropout", self.pipec_name, context.step, context.example_offset + example), per_example)
            rows.append(np.where(draws >= self.rate, keep, 0.0).astype(np.float32))
        mask = torch.from_numpy(np.stack(rows).reshape(x.shape)).to(x.device)
        return x * mask


class Conv2D(PipecLayer):
    """NHWC convolution with a [kh, kw, in, out] kernel and TensorFlow's
    padding ('same' pads the odd pixel at the bottom and right)."""

    def __init__(self, name, in_channels, filters, kernel, stride=1, padding="valid", activation="none"):
        super().__init__(name)
        self.kernel_size, self.stride, self.padding, self.activation = kernel, stride, padding, activation
        self.add_parameter("kernel", "kernel", (kernel, kernel, in_channels, filters))
        self.add_parameter("bias", "bias", (filters,))

    def run(self, x, context):
        images = x.permute(0, 3, 1, 2)
        if self.padding == "same":
            pads = []
            for size in (images.shape[3], images.shape[2]):  # width, then height: F.pad's order
                out = -(-size // self.stride)
                total = max((out - 1) * self.stride + self.kernel_size - size, 0)
                pads += [total // 2, total - total // 2]
            images = F.pad(images, pads)
        z = F.conv2d(images, self.kernel.permute(3, 2, 0, 1), self.bias, stride=self.stride)
        return activate(self.activation, z.permute(0, 2, 3, 1))


class MaxPool(PipecLayer):
    def __init__(self, name, size, stride):
        super().__init__(name)
        self.size, self.stride = size, stride

    def run(self, x, context):
        return F.max_pool2d(x.permute(0, 3, 1, 2), self.size, self.stride).permute(0, 2, 3, 1)


class Add(PipecLayer):
    """x + the output of the earlier layer `skip` names (a merge layer)."""

    def __init__(self, name, skip):
        super().__init__(name)
        self.skip = skip

    def merge(self, x, skip, context):
        return x + skip


class Concat(PipecLayer):
    """[x, the output of the layer `skip` names] joined on `axis` (batch = 0)."""

    def __init__(self, name, skip, axis):
        super().__init__(name)
        self.skip, self.axis = skip, axis

    def merge(self, x, skip, context):
        return torch.cat([x, skip], dim=self.axis)


class Sequence(PipecLayer):
    """Its layers in order; a merge layer also reads the output of the earlier layer it names."""

    def __init__(self, name, layers):
        super().__init__(name)
        self.layers = nn.ModuleList(layers)

    def run(self, x, context):
        outputs = {}
        for layer in self.layers:
            x = layer.merge(x, outputs[layer.skip], context) if isinstance(layer, (Add, Concat)) else layer.run(x, context)
            outputs[layer.pipec_name] = x
        return x


class Residual(Sequence):
    """output = input + body(input)."""

    def run(self, x, context):
        return x + super().run(x, context)


class AttentionCore(PipecLayer):
    """Scaled dot-product attention over a fused [q | k | v] input; causal
    masking adds -1e9 above the diagonal, as pipec does."""

    def __init__(self, name, heads, causal):
        super().__init__(name)
        self.heads, self.causal = heads, causal

    def run(self, qkv, context):
        batch, seq, width = qkv.shape
        dim = width // 3
        head_dim = dim // self.heads
        q, k, v = (part.reshape(batch, seq, self.heads, head_dim).permute(0, 2, 1, 3) for part in qkv.split(dim, dim=2))
        scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(head_dim))
        if self.causal:
            mask = torch.tril(torch.ones(seq, seq, device=qkv.device))
            scores = scores + (1 - mask) * -1e9
        context_vectors = torch.softmax(scores, dim=-1) @ v
        return context_vectors.permute(0, 2, 1, 3).reshape(batch, seq, dim)


def MultiHeadAttention(name, dim, heads, causal):
    return Sequence(name, [
        Dense(f"{name}/qkv", dim, 3 * dim),
        AttentionCore(f"{name}/core", heads, causal),
        Dense(f"{name}/out", dim, dim),
    ])


def TransformerBlock(name, dim, heads, ff, causal, dropout, norm_eps, activation):
    """Pre-LN: x + drop(MHA(LN(x))), then x + drop(FF(LN(x)))."""
    return Sequence(name, [
        Residual(f"{name}/attention_residual", [
            LayerNorm(f"{name}/ln1", dim, norm_eps),
            MultiHeadAttention(f"{name}/attention", dim, heads, causal),
            Dropout(f"{name}/attention_dropout", dropout),
        ]),
        Residual(f"{name}/ff_residual", [
            LayerNorm(f"{name}/ln2", dim, norm_eps),
            Dense(f"{name}/ff1", dim, ff, activation),
            Dense(f"{name}/ff2", ff, dim),
            Dropout(f"{name}/ff_dropout", dropout),
        ]),
    ])


class PipecStage(nn.Module):
    """One pipeline stage: its layers in order. With `recompute` the stage
    keeps only its input and runs its forward again in the backward
    (activation checkpointing), as pipec's recompute stages do."""

    def __init__(self, name, layers, recompute=False, seed=0):
        super().__init__()
        self.pipec_name, self.recompute = name, recompute
        self.body = Sequence(name, layers)
        self.context = RunContext(seed)

    def forward(self, x):
        context = RunContext(self.context.seed, self.context.step, self.context.example_offset, self.context.training)
        if self.recompute and torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(self.body.run, x, context, use_reentrant=False)
        return self.body.run(x, context)


# ───────────────────────── loss (runtime/loss.ts) ─────────────────────────
def loss_function(name):
    """The mean over a microbatch; the runtime averages the microbatches'
    gradients (scale_grads), which is pipec's 1/microbatches scaling."""
    if name == "softmax_cross_entropy":
        return lambda output, target: F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1).long())
    if name == "mse":
        return lambda output, target: F.mse_loss(output, target.float())
    raise ValueError(f"unknown loss '{name}'")


# ───────────────────────── optimizers (runtime/optimizers.ts) ─────────────────────────
class PipecOptimizer:
    """sgd, momentum and adam with pipec's formulas: momentum v = μ·v + g
    (v = g at the first step); adam (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε);
    a learning rate that is constant or cosine-decayed to 0 over decay_steps."""

    def __init__(self, spec, parameters):
        args = spec["args"]
        self.name = spec["name"]
        if self.name not in ("sgd", "momentum", "adam"):
            raise ValueError(f"unknown optimizer '{self.name}' (sgd, momentum, adam)")
        self.base_lr = args.get("lr", args.get("learning_rate", 0.01))
        self.decay_steps = args.get("decay_steps")
        self.momentum = 0.0 if self.name == "sgd" else args.get("momentum", 0.9)
        self.beta1, self.beta2 = args.get("beta1", 0.9), args.get("beta2", 0.999)
        self.eps = args.get("eps", args.get("epsilon", 1e-8))
        self.parameters = list(parameters)
        self.state = {}
        self.step_count = 0

    def learning_rate(self, step):
        if not self.decay_steps:
            return self.base_lr
        return self.base_lr * 0.5 * (1 + math.cos(math.pi * min(step - 1, self.decay_steps) / self.decay_steps))

    @torch.no_grad()
    def step(self):
        self.step_count += 1
        lr = self.learning_rate(self.step_count)
        c1, c2 = 1 - self.beta1 ** self.step_count, 1 - self.beta2 ** self.step_count
        for p in self.parameters:
            g = p.grad
            if g is None:
                continue
            if self.name == "adam":
                m, v = self.state.get((id(p), "m")), self.state.get((id(p), "v"))
                m = (m * self.beta1 if m is not None else torch.zeros_like(g)) + g * (1 - self.beta1)
                v = (v * self.beta2 if v is not None else torch.zeros_like(g)) + g.square() * (1 - self.beta2)
                self.state[(id(p), "m")], self.state[(id(p), "v")] = m, v
                p.sub_(((m / c1) / ((v / c2).sqrt() + self.eps)) * lr)
            elif self.momentum == 0:
                p.sub_(g * lr)
            else:
                velocity = self.state.get(id(p))
                velocity = velocity * self.momentum + g if velocity is not None else g.clone()
                self.state[id(p)] = velocity
                p.sub_(velocity * lr)

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None
