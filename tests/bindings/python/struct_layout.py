#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""struct_layout.py STRUCT_LAYOUT_EXE BINDINGS_PYTHON_DIR

The ctypes mirrors of the public structs (bindings/python/natsbridge/_lib.py) must have the
C layout: the same size, the same members at the same offsets. struct_layout.c prints the C
side; a member added in include/natsbridge.h and not in the binding (as happened with
nb_js_consumer_config.inactive_threshold_ms) fails here, not as a garbage value at run time.
"""
import ctypes
import os
import subprocess
import sys

MIRRORS = {  # C struct -> the ctypes class in natsbridge._lib
    "nb_fileserver_auth": "FileserverAuth", "nb_upload_request": "UploadRequest",
    "nb_upload_result": "UploadResult", "nb_download_request": "DownloadRequest",
    "nb_item": "Item", "nb_send_fields": "SendFields", "nb_js_stream_config": "JsStreamConfig",
    "nb_js_stream_info": "JsStreamInfo", "nb_js_ack": "JsAck",
    "nb_js_publish_options": "JsPublishOptions", "nb_js_consumer_config": "JsConsumerConfig",
    "nb_js_delivery": "JsDelivery", "nb_objstore_config": "ObjstoreConfig",
    "nb_object_info": "ObjectInfo",
    "nb_py_payload_view": "PayloadView", "nb_py_delivery": "Delivery",
}


def main():
    exe, pkg_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, pkg_dir)
    from natsbridge import _lib  # loads the library NATSBRIDGE_LIBRARY names

    # The helper carries its own sanitizer runtime (an instrumented executable): not the one
    # preloaded into python3 for the instrumented library.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run([exe], capture_output=True, text=True, check=True, env=env).stdout
    bad, seen = [], set()
    for line in out.splitlines():
        name, size, *members = line.split()
        seen.add(name)
        cls = getattr(_lib, MIRRORS[name])
        if ctypes.sizeof(cls) != int(size):
            bad.append(f"{name}: C size {size}, ctypes {ctypes.sizeof(cls)} ({cls.__name__})")
        for m in members:
            field, offset = m.split("=")
            if not hasattr(cls, field):
                bad.append(f"{name}.{field}: a member of the C struct that {cls.__name__} lacks")
                continue
            got = getattr(cls, field).offset
            if got != int(offset):
                bad.append(f"{name}.{field}: C offset {offset}, ctypes {got}")
    missing = set(MIRRORS) - seen
    if missing:
        bad.append("struct_layout printed nothing for " + ", ".join(sorted(missing)))
    for b in bad:
        print("struct_layout: " + b)
    if bad:
        sys.exit(1)
    print(f"struct_layout: {len(seen)} structs, ctypes layout = C layout")


if __name__ == "__main__":
    main()
