"""Builds the Swift library's C ABI (libTweedieC.so) and bundles it in the package.

`pip install ./python` runs `swift build -c release --product TweedieC -Xswiftc -static-stdlib` in
the repository (the parent of this folder), so the wheel's library runs without Swift installed.
Set TWEEDIE_PREBUILT_LIBRARY to the path of an already built libTweedieC.so to skip the build.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent


class BuildSwiftLibrary(build_py):
    def run(self):
        prebuilt = os.environ.get("TWEEDIE_PREBUILT_LIBRARY")
        if prebuilt:
            library = Path(prebuilt)
        else:
            build_path = REPOSITORY / ".build-python"
            command = ["swift", "build", "-c", "release", "--product", "TweedieC", "-Xswiftc", "-static-stdlib",
                       "--build-path", str(build_path)]
            subprocess.run(command, cwd=REPOSITORY, check=True)
            library = build_path / "release" / "libTweedieC.so"
        if not library.exists():
            raise RuntimeError(f"the Swift build did not produce {library}")
        target = HERE / "tweedie" / "_lib"
        target.mkdir(exist_ok=True)
        shutil.copy2(library, target / "libTweedieC.so")
        super().run()


class BinaryDistribution(Distribution):
    """The package carries a native library: its wheel is for this platform, not `any`."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildSwiftLibrary}, distclass=BinaryDistribution)
