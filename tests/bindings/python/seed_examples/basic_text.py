# SPDX-License-Identifier: MIT
# Seed README (Python): basic text message.
from natsbridge import smartsend

data = [("message", "Hello World!", "text")]
env = smartsend("/chat/room1", data, msg_purpose="chat", sender_name="python-chat")
print("sent", env["msg_id"])
