"""Builds the Python package `actor` with CMake (see pyproject.toml).

build_ext configures and builds the library and the SWIG extension with
CMake (no tests, examples or benchmarks), then puts into the wheel's actor/
the extension, the SWIG module _core.py and libactor.so.1, and sets the
extension's RPATH to $ORIGIN so it finds that libactor.so.1 beside it (in
the build tree CMake gives it $ORIGIN/../../lib and the build folder). The
pure-Python modules come from bindings/python/actor as they are.

setuptools' work folders go to build-pip/ (or $ACTOR_PIP_BUILD_DIR), not
into build/, which is CMake's.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.abspath(os.environ.get("ACTOR_PIP_BUILD_DIR") or os.path.join(ROOT, "build-pip"))


def version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(libactor\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        sys.exit("setup.py: no `project(libactor VERSION x.y.z)` in CMakeLists.txt")
    return m.group(1)


class CMakeExtension(Extension):
    """The extension actor.__core, built by CMake rather than by setuptools."""

    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        os.makedirs(build, exist_ok=True)
        jobs = str(os.cpu_count() or 2)
        subprocess.check_call([
            "cmake", "-S", ROOT, "-B", build,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DACTOR_BUILD_TESTS=OFF", "-DACTOR_BUILD_EXAMPLES=OFF",
            "-DACTOR_BUILD_BENCH=OFF", "-DACTOR_BUILD_PYTHON=ON",
            "-DPython3_EXECUTABLE=" + sys.executable,
        ])
        subprocess.check_call(["cmake", "--build", build, "-j", jobs,
                               "--target", "actor_python"])
        target = self.get_ext_fullpath(ext.name)   # <build_lib>/actor/__core.<suffix>
        pkg = os.path.dirname(target)
        os.makedirs(pkg, exist_ok=True)
        built = os.path.join(build, "python", "actor")
        name = os.path.basename(target)
        if not os.path.exists(os.path.join(built, name)):
            sys.exit("setup.py: CMake built no %s in %s (another Python's suffix?): %s"
                     % (name, built, sorted(os.listdir(built))))
        shutil.copyfile(os.path.join(built, name), target)
        shutil.copyfile(os.path.join(built, "_core.py"), os.path.join(pkg, "_core.py"))
        # the library under its soname (the real file, not the symlink)
        shutil.copyfile(os.path.realpath(os.path.join(build, "lib", "libactor.so.1")),
                        os.path.join(pkg, "libactor.so.1"))
        script = os.path.join(build, "set-rpath.cmake")
        with open(script, "w", encoding="utf-8") as f:
            f.write('file(RPATH_SET FILE "${FILE}" NEW_RPATH "$ORIGIN")\n')
        subprocess.check_call(["cmake", "-DFILE=" + target, "-P", script])


os.makedirs(WORK, exist_ok=True)
setup(
    version=version(),
    packages=["actor"],
    package_dir={"actor": "bindings/python/actor"},
    package_data={"actor": ["py.typed", "*.pyi"]},  # type information (PEP 561)
    ext_modules=[CMakeExtension("actor.__core")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": WORK}, "egg_info": {"egg_base": WORK}},
    zip_safe=False,
)
