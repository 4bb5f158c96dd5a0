# SPDX-License-Identifier: MIT
"""A PEP 517 build backend for the natsbridge package, on the standard library only.

The package is Python (ctypes) over the C library, which cmake builds and installs, plus an
optional extension, natsbridge._native (src/_native.c), that moves the binding's hot paths into
C. A wheel is a zip of natsbridge/*.py, that extension when it could be compiled, and its
.dist-info; pip can then install it offline with no setuptools or wheel package (Debian's
system Python has them, a pyenv or venv Python often does not). The extension is compiled with
the C compiler this Python was built with, against its Python.h and natsbridge.h (the tree's
include/, or the directory NATSBRIDGE_INCLUDE names); where any of them is missing, or with
NATSBRIDGE_NATIVE=0, the wheel is the pure-Python one, which does the same work, slower.
"""

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

NAME, VERSION = "natsbridge", "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
TAG = "py3-none-any"


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: NATSBridge smartsend/smartreceive for Python on the natsbridge C library\n"
            "License: MIT\nRequires-Python: >=3.9\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, VERSION, readme))


def _files():
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name), "rb") as f:
                yield "%s/%s" % (NAME, name), f.read()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return DIST_INFO


def _header_dir():
    """The directory holding natsbridge.h: NATSBRIDGE_INCLUDE, the sdist's include/ or the
    source tree's include/."""
    for d in (os.environ.get("NATSBRIDGE_INCLUDE"), os.path.join(HERE, "include"),
              os.path.join(HERE, "..", "..", "include")):
        if d and os.path.isfile(os.path.join(d, "natsbridge.h")):
            return os.path.abspath(d)
    return None


def _native():
    """(path in the wheel, bytes) of natsbridge._native compiled for this Python, or None with
    the reason on stderr (the pure-Python wheel is then built)."""
    if os.environ.get("NATSBRIDGE_NATIVE") == "0":
        return None
    py_include, headers = sysconfig.get_paths()["include"], _header_dir()
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if not shutil.which(cc[0]):
        cc = ["cc"]
    why = (None if os.path.isfile(os.path.join(py_include, "Python.h")) else
           "no Python.h in %s (Debian: apt-get install python3-dev)" % py_include)
    why = why or (None if headers else "natsbridge.h not found (set NATSBRIDGE_INCLUDE)")
    why = why or (None if shutil.which(cc[0]) else "no C compiler")
    if why:
        print("natsbridge: building without the native extension: %s" % why, file=sys.stderr)
        return None
    name = "_native" + sysconfig.get_config_var("EXT_SUFFIX")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, name)
        cmd = cc + ["-std=c11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
                    "-I", py_include, "-I", headers, os.path.join(HERE, "src", "_native.c"),
                    "-o", out, "-ldl"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print("natsbridge: building without the native extension: %s failed:\n%s"
                  % (" ".join(cmd), r.stderr[-2000:]), file=sys.stderr)
            return None
        with open(out, "rb") as f:
            return "%s/%s" % (NAME, name), f.read()


def _wheel(wheel_directory, entries, tag=TAG):
    name = "%s-%s-%s.whl" % (NAME, VERSION, tag)
    meta = [(DIST_INFO + "/METADATA", _metadata().encode("utf-8")),
            (DIST_INFO + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: natsbridge_build\n"
                                    "Root-Is-Purelib: %s\nTag: %s\n"
                                    % ("true" if tag == TAG else "false", tag)).encode())]
    record = [_record_line(p, d) for p, d in entries + meta] + [DIST_INFO + "/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries + meta:
            z.writestr(path, data)
        z.writestr(DIST_INFO + "/RECORD", "\n".join(record) + "\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    native = _native()
    if native is None:
        return _wheel(wheel_directory, list(_files()))
    # An extension for this CPython and platform only: the wheel says so.
    py = "cp%d%d" % sys.version_info[:2]
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return _wheel(wheel_directory, list(_files()) + [native], "%s-%s-%s" % (py, py, platform))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # a .pth file naming this directory: the package is imported from the tree
    return _wheel(wheel_directory, [(NAME + "_editable.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ("pyproject.toml", "README.md", "natsbridge_build.py"):
            t.add(os.path.join(HERE, rel), "%s/%s" % (base, rel))
        for path, _ in _files():
            t.add(os.path.join(HERE, path), "%s/%s" % (base, path))
        t.add(os.path.join(HERE, "src", "_native.c"), base + "/src/_native.c")
        if _header_dir():  # so that the sdist builds the extension away from the tree
            t.add(os.path.join(_header_dir(), "natsbridge.h"), base + "/include/natsbridge.h")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = _metadata().encode("utf-8")
        info.size = len(data)
        import io
        t.addfile(info, io.BytesIO(data))
    return name
