# The SWIG-generated private extension (actor._core, built into the build
# tree): not typed. Scripts use the package; the package's own white-box
# tests reach in here, and get Any.
from typing import Any

def __getattr__(name: str) -> Any: ...
