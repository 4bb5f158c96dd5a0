# SPDX-License-Identifier: MIT
# Seed README (Python): a large payload goes by link through the file server (claim-check).
from natsbridge import smartsend

large = bytes(i % 251 for i in range(2_000_000))    # 2 MB: over the 1,000,000-byte threshold
env = smartsend("/data/large", [("large_data", large, "binary")])
print(env["payloads"][0]["transport"], env["payloads"][0]["data"])   # "link" and its URL
