"""natsbridge_mp: the NATSBridge v1 envelope (msg_envelope_v1) for MicroPython.

- schema_v1: constants generated from schema/ by `cargo xtask codegen` into
  generated/micropython/schema_v1.py (copy it here on a device; never edit it);
- codec: smartsend's envelope building and smartreceive's decoding, no I/O;
- nats: a minimal NATS client (core text protocol over `socket`);
- http: link download over plain HTTP/1.1 and the Plik one-shot upload.

Import the module you need (`from natsbridge_mp import codec`): nothing is imported here,
so a device loads only what it uses.
"""

__version__ = "0.1.0"
