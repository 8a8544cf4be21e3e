"""paho-mqtt (pure Python, from PyPI) talking to a real mosquitto broker from a plugin.

`mqtt_client PORT` subscribes, publishes (QoS 0 and 1, a 256 KiB payload) and prints what came
back. One thread: the plugin drives paho's `loop()` itself (`loop_start` needs threads). paho
makes its wake-up socket pair over TCP on 127.0.0.1, which `--allow-connect self` and an
ephemeral loopback bind allow.

    sockbox python build mqtt_client.py -r mqtt_client.requirements.txt
    sockbox run --allow-connect 127.0.0.1:1883 --allow-connect self \
        --allow-bind 127.0.0.1:0 mqtt_client.wasm 1883

`tests/tests/python.rs` runs it against a mosquitto it starts.
"""

import sockbox  # first: socket.py on sockbox

import sys
import time

import paho.mqtt.client as mqtt


def main():
    port = int(sys.argv[1])
    got = []
    acks = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sockbox-plugin")
    client.on_message = lambda c, userdata, msg: got.append((msg.topic, msg.payload, msg.qos))
    client.on_subscribe = lambda c, userdata, mid, reasons, props: acks.append(mid)
    client.connect("127.0.0.1", port, keepalive=30)
    client.subscribe("sockbox/#", qos=1)
    big = bytes(range(256)) * 1024
    client.publish("sockbox/hello", b"hello from a plugin", qos=0)
    info = client.publish("sockbox/big", big, qos=1)
    deadline = time.monotonic() + 20
    while (len(got) < 2 or not info.is_published()) and time.monotonic() < deadline:
        client.loop(timeout=0.2)
    print("subscribed:", len(acks))
    print("topics:", sorted(topic for topic, _, _ in got))
    print("hello:", dict((t, p) for t, p, _ in got).get("sockbox/hello"))
    print("big:", any(p == big for _, p, _ in got))
    print("published:", info.is_published())
    client.disconnect()


Run = sockbox.command(main)
