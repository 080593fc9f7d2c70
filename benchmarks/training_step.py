"""A real PyTorch training step, phase by phase, beside the same model's inference in PyTorch
and in OpenVINO (``ic.run``), per batch size, f32 and bf16.

Run: python benchmarks/training_step.py [--batches 1,8,32] [--cpus 0,1] [--quick]
(about 4 minutes on 2 cores; needs the ``torch`` extra: pip install '.[torch]'; run it alone)

The model: a small CNN (3 conv/BN/ReLU blocks, pooling, a linear head; 93 k parameters) on
random 3x64x64 images with random weights, 10 classes. Timed with ``ic.measure``, pinned to
``--cpus`` (PyTorch's threads set to as many):

(a) the training step: data (a batch drawn and copied into the input tensors), forward, loss,
    backward, optimizer (SGD with momentum), each an ``ic.phase``; its samples/s in f32 and
    with forward and loss under bf16 autocast, and each f32 phase's median and share of the
    step ("(other)": the step's time outside the five);
(b) inference in PyTorch: ``model.eval()`` under ``torch.inference_mode()``, f32, and bf16
    under ``torch.autocast("cpu", torch.bfloat16)``;
(c) inference in OpenVINO: the model exported with ``ov.convert_model`` (dynamic batch) and
    timed by ``ic.run`` in latency mode (one request, sync), f32 and bf16, pinned alike.

Samples/s is batch size / median time of one call (a step, or one inference of the batch).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

import inferclock as ic

PHASES = ("data", "forward", "loss", "backward", "optimizer")


def build(torch: Any) -> Any:
    nn = torch.nn
    torch.manual_seed(0)

    def block(cin: int, cout: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10),
    )  # fmt: skip


def training(torch: Any, model: Any, batch: int, cpus: list[int], seconds: float,
             bf16: bool = False) -> Any:  # fmt: skip
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(batch)
    pool_x = torch.randn(4 * batch, 3, 64, 64, generator=g)
    pool_y = torch.randint(0, 10, (4 * batch,), generator=g)
    x = torch.empty(batch, 3, 64, 64)
    y = torch.empty(batch, dtype=torch.long)
    step_no = [0]

    def step() -> None:
        with ic.phase("data"):
            i = (step_no[0] % 4) * batch
            x.copy_(pool_x[i : i + batch])
            y.copy_(pool_y[i : i + batch])
            step_no[0] += 1
        with ic.phase("forward"), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            out = model(x)
        with ic.phase("loss"), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(out, y)
        with ic.phase("backward"):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        with ic.phase("optimizer"):
            opt.step()

    return ic.measure(step, cpus=cpus, max_time=seconds, batch_size=batch)


def torch_inference(torch: Any, model: Any, batch: int, bf16: bool, cpus: list[int],
                    seconds: float) -> Any:  # fmt: skip
    model.eval()
    x = torch.randn(batch, 3, 64, 64, generator=torch.Generator().manual_seed(1))

    def infer() -> None:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            model(x)

    return ic.measure(infer, cpus=cpus, max_time=seconds)


def export(torch: Any, model: Any, folder: Path) -> Path:
    import openvino as ov

    model.eval()
    ovm = ov.convert_model(
        model, example_input=torch.randn(1, 3, 64, 64), input=[ov.PartialShape([-1, 3, 64, 64])]
    )
    path = folder / "cnn.xml"
    ov.save_model(ovm, str(path), compress_to_fp16=False)
    return path


def per_second(batch: int, median_ns: float) -> str:
    return f"{batch / (median_ns / 1e9):,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--cpus", default=None, help="CPUs to pin to (default: all allowed)")
    ap.add_argument("--seconds", type=float, default=6.0, help="max time per measurement")
    ap.add_argument("--quick", action="store_true", help="batches 1,8 and 1 s each (smoke)")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("needs PyTorch: pip install 'inferclock[torch]'") from None
    import os

    batches = [int(b) for b in args.batches.split(",")]
    if args.quick:
        batches, args.seconds = [1, 8], 1.0
    cpus = sorted(os.sched_getaffinity(0)) if args.cpus is None else [
        int(c) for c in args.cpus.split(",")
    ]  # fmt: skip
    torch.set_num_threads(len(cpus))
    model = build(torch)
    params = sum(p.numel() for p in model.parameters())
    print(f"# training_step ({today()}); {machine()}; torch {torch.__version__}; "
          f"{params:,} parameters; pinned to CPUs {cpus}; load before: {loadavg()}")  # fmt: skip
    steps: dict[int, Any] = {}
    rows, phase_rows = [], []
    with tempfile.TemporaryDirectory() as d:
        xml = export(torch, build(torch), Path(d))
        for b in batches:
            steps[b] = m = training(torch, model, b, cpus, args.seconds)
            m16 = training(torch, model, b, cpus, args.seconds, bf16=True)
            line = [b, per_second(b, m.stats.median_ns), per_second(b, m16.stats.median_ns)]
            for bf16 in (False, True):
                t = torch_inference(torch, model, b, bf16, cpus, args.seconds)
                line.append(per_second(b, t.stats.median_ns))
            for precision in ("f32", "bf16"):
                r = ic.run(xml, batch_size=b, precision=precision, cpus=cpus,
                           max_time=args.seconds, threads=len(cpus))  # fmt: skip
                line.append(per_second(b, r.latency.median_ns))
            rows.append(line)
            for name in (*PHASES, "(other)"):
                p = m.phases[name]
                phase_rows.append([b, name, f"{p.stats.median_ns / 1e6:.3f}",
                                   f"{p.share:.1%}"])  # fmt: skip
            print(f"batch {b} done", flush=True)
    print()
    heads = ["batch", "train f32 /s", "train bf16 /s", "torch f32 /s", "torch bf16 /s",
             "OpenVINO f32 /s", "OpenVINO bf16 /s"]  # fmt: skip
    print(table(heads, rows))
    print()
    print(table(["batch", "phase", "median ms", "share of step"], phase_rows))
    print(f"\nload after: {loadavg()}")


if __name__ == "__main__":
    main()
