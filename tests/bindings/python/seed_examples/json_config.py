# SPDX-License-Identifier: MIT
# Seed README (Python): a JSON configuration (dictionary payload).
from natsbridge import smartsend

config = {"wifi_ssid": "MyNetwork", "update_interval": 60,
          "sensors": ["temp", "humidity"]}
env = smartsend("/device/config", [("config", config, "dictionary")],
                msg_purpose="updateConfig", receiver_name="device-42")
print("sent", env["msg_id"])
