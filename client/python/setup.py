"""Build hook of durabled-client: generates the gRPC stubs at build time.

setuptools reads everything else from pyproject.toml. ``build_py`` runs
protoc on ``durable/v1/durable.proto`` and writes ``durable/v1/durable_pb2.py``
(with its ``.pyi``) and ``durable_pb2_grpc.py`` into the build directory, so
the generated code goes into the wheel and never into the source tree.

Where things are found (environment variables override):
  DURABLE_PROTO_DIR   directory holding durable/v1/durable.proto: ./proto of
                      a staged copy (build-wheel.sh), else ../../proto (the
                      checkout)
  PROTOC              /usr/bin/protoc, else protoc on PATH
  GRPC_PYTHON_PLUGIN  /usr/bin/grpc_python_plugin, else on PATH
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROTO = "durable/v1/durable.proto"


def _tool(variable: str, name: str) -> str:
    explicit = os.environ.get(variable)
    if explicit:
        return explicit
    debian = Path("/usr/bin") / name
    if debian.exists():
        return str(debian)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(
            f"durabled-client: {name} not found (set {variable}); on Debian "
            "install protobuf-compiler and protobuf-compiler-grpc")
    return found


def _proto_dir() -> Path:
    explicit = os.environ.get("DURABLE_PROTO_DIR")
    candidates = [Path(explicit)] if explicit else [HERE / "proto",
                                                    HERE.parent.parent / "proto"]
    for candidate in candidates:
        if (candidate / PROTO).is_file():
            return candidate
    raise SystemExit("durabled-client: cannot find " + PROTO + " under " +
                     " or ".join(str(c) for c in candidates) +
                     " (set DURABLE_PROTO_DIR)")


class BuildPyWithStubs(build_py):
    """build_py that also generates durable.v1 from the proto."""

    def run(self) -> None:
        super().run()
        out = Path(self.build_lib)
        package = out / "durable" / "v1"
        package.mkdir(parents=True, exist_ok=True)
        proto_dir = _proto_dir()
        command = [
            _tool("PROTOC", "protoc"),
            f"--plugin=protoc-gen-grpc={_tool('GRPC_PYTHON_PLUGIN', 'grpc_python_plugin')}",
            f"-I{proto_dir}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_out={out}",
            str(proto_dir / PROTO),
        ]
        self.announce("generating stubs: " + " ".join(command), level=2)
        subprocess.run(command, check=True)
        (package / "__init__.py").write_text(
            '"""Generated from proto/durable/v1/durable.proto at build time."""\n')


setup(cmdclass={"build_py": BuildPyWithStubs})
