"""The Python half of examples/python.js: attach to Node's block, read its JSON
message (NUL-terminated UTF-8, as SharedMemory.data writes it), write a reply
the same way."""
import json
import os
import sys
from multiprocessing import shared_memory

name = sys.argv[1]
if sys.version_info >= (3, 13):
    block = shared_memory.SharedMemory(name=name, track=False)
else:
    block = shared_memory.SharedMemory(name=name)
    if os.name == "posix":
        # Before Python 3.13 an attaching process on POSIX registers the block
        # too, and the tracker would remove it at exit: the block is Node's to
        # remove. (Windows registers nothing, and its tracker cannot start.)
        from multiprocessing import resource_tracker

        resource_tracker.unregister(block._name, "shared_memory")

raw = bytes(block.buf).split(b"\0", 1)[0]
message = json.loads(raw.decode("utf-8"))
print(f"python: read {message}")
reply = json.dumps({"reply": "hello from Python", "sum": sum(message["numbers"])}).encode() + b"\0"
block.buf[: len(reply)] = reply
block.close()
