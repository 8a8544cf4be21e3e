"""The Python plugin of the bench's process-start table: one socket, one line."""

import sockbox  # first: socket.py on sockbox

import socket


def main():
    socket.socket().close()
    print("hello")


Run = sockbox.command(main)
