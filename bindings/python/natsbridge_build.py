# SPDX-License-Identifier: MIT
"""A PEP 517 build backend for the natsbridge package, on the standard library only.

The package is pure Python (the C library is installed by cmake), so a wheel is a zip of
natsbridge/*.py and its .dist-info; pip can then install it offline with no setuptools or
wheel package (Debian's system Python has them, a pyenv or venv Python often does not).
"""

import base64
import hashlib
import os
import tarfile
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


def _wheel(wheel_directory, entries):
    name = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    meta = [(DIST_INFO + "/METADATA", _metadata().encode("utf-8")),
            (DIST_INFO + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: natsbridge_build\n"
                                    "Root-Is-Purelib: true\nTag: %s\n" % TAG).encode())]
    record = [_record_line(p, d) for p, d in entries + meta] + [DIST_INFO + "/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries + meta:
            z.writestr(path, data)
        z.writestr(DIST_INFO + "/RECORD", "\n".join(record) + "\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, list(_files()))


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
        info = tarfile.TarInfo(base + "/PKG-INFO")
        data = _metadata().encode("utf-8")
        info.size = len(data)
        import io
        t.addfile(info, io.BytesIO(data))
    return name
