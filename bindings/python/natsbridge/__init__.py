# SPDX-License-Identifier: MIT
"""natsbridge for Python: the NATSBridge API (smartsend, smartreceive) on libnatsbridge.

    from natsbridge import smartsend, smartreceive
    env = smartsend("/chat/room1", [("message", "Hello!", "text")])
    payloads = smartreceive(msg)          # [(dataname, data, type)]; .envelope: every field

Beyond the seed: Client (one connection, subscriptions, request/reply, JetStream, Object
Store, authentication and TLS). docs/BINDINGS.md is the reference.
"""

from ._lib import (NatsBridgeError, InvalidArgumentError, BadMessageError, TooLargeError,
                   ConnectionFailedError, TimeoutError, NoRespondersError, IntegrityError,
                   NotAllowedError, NotFoundError, STATUS_NAMES, library_path, lib as _clib)
from ._core import (smartsend, smartreceive, receive_envelope, Client, Subscription, Message,
                    Payloads, Consumer, ObjectStore, table_from_rows, table_to_rows,
                    ENVELOPE_FIELDS, DEFAULT_NATS_URL, DEFAULT_FILESERVER_URL,
                    DEFAULT_SIZE_THRESHOLD, ACK, NAK, TERM, NAK_NOW, native_path)

__version__ = "0.1.0"
library_version = _clib.nb_version_string().decode()

__all__ = ["smartsend", "smartreceive", "receive_envelope", "Client", "Subscription", "Message",
           "Payloads", "Consumer", "ObjectStore", "table_from_rows", "table_to_rows",
           "NatsBridgeError", "InvalidArgumentError", "BadMessageError", "TooLargeError",
           "ConnectionFailedError", "TimeoutError", "NoRespondersError", "IntegrityError",
           "NotAllowedError", "NotFoundError", "ACK", "NAK", "TERM", "NAK_NOW",
           "ENVELOPE_FIELDS", "DEFAULT_NATS_URL", "DEFAULT_FILESERVER_URL",
           "DEFAULT_SIZE_THRESHOLD", "STATUS_NAMES", "library_path", "library_version",
           "native_path"]
