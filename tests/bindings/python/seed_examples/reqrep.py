# SPDX-License-Identifier: MIT
# Seed README (Python): request/response, the reply addressed to reply_to.
from natsbridge import Client, smartsend, smartreceive

with Client() as client:
    replies = client.subscribe("/device/config/reply")
    client.flush()
    env = smartsend("/device/config", [("config", {"rate": 5, "unit": "s"}, "dictionary")],
                    msg_purpose="updateConfig", reply_to="/device/config/reply",
                    sender_name="python-requester")
    msg = replies.next_msg(timeout=10)
    for dataname, data, type in smartreceive(msg):
        print("reply", dataname, type, data)
    print("answers", smartreceive(msg).envelope["reply_to_msg_id"] == env["msg_id"])
