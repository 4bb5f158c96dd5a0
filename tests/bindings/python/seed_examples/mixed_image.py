# SPDX-License-Identifier: MIT
# Seed README (Python): mixed content, text and an image in one message.
from natsbridge import smartsend

image_bytes = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40   # stands for open("photo.png", "rb").read()
data = [("message_text", "Check out this photo!", "text"),
        ("user_image", image_bytes, "image")]
env = smartsend("/chat/room1", data, sender_name="alice")
for p in env["payloads"]:
    print(p["dataname"], p["type"], p["transport"], p["size"])
