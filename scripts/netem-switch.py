#!/usr/bin/env python3
"""A userspace netem: one switch between hosts in network namespaces that delays, jitters and drops
their IPv4 packets, for kernels built without sch_netem (CONFIG_NET_SCH_NETEM; this project's CI
machines have none). Started by netem-hosts.sh; not meant to be run by hand.

Each host namespace gets a TUN device `eth0`, opened here (setns into the namespace, open, come
back), so no interface exists outside the namespaces. Every packet a host sends is read here, dropped
with probability LOSS, else written to the host its destination address names after DELAY ± JITTER
(uniform), scheduled per packet: like netem without a rate, jitter reorders packets, and TCP sees
loss and reordering as it would on a bad path.

With a RATE (Mbit/s, 0: none), each host's way in is also a bottleneck link: packets to it leave one
after another at that rate from a first-in first-out queue holding at most QUEUE_MS of the rate
(tail drop past it), then take DELAY ± JITTER; the queue is where congestion control meets others.

usage: netem-switch.py PREFIX N DELAY_MS JITTER_MS LOSS_PERCENT [RATE_MBIT [QUEUE_MS]]
Prints "ready" once every TUN is open; runs until killed.
"""
import ctypes
import fcntl
import heapq
import os
import random
import selectors
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
BASE = 10  # host I is 198.18.0.(BASE + I)
DEFAULT_QUEUE_MS = 100  # a rate-limited link's queue, ms of its rate, unless told
MAX_PENDING = 200_000  # packets held at most; more are lost, as a full netem queue loses them

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def open_tun(namespace):
    """A TUN named eth0 inside `namespace`: enter it, open the device, come back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        setns(target)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"eth0", IFF_TUN | IFF_NO_PI))
        return fd
    finally:
        setns(home)
        os.close(target)
        os.close(home)


def main():
    prefix, n, delay_ms, jitter_ms, loss_pct = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    rate_bps = float(sys.argv[6]) * 1e6 if len(sys.argv) > 6 else 0.0
    queue_s = float(sys.argv[7]) / 1000 if len(sys.argv) > 7 else DEFAULT_QUEUE_MS / 1000
    free_at = {}  # with a rate: out fd -> when its bottleneck has sent all it holds
    tuns = [open_tun(f"{prefix}h{i}") for i in range(n)]
    by_last_octet = {BASE + i: fd for i, fd in enumerate(tuns)}
    sel = selectors.DefaultSelector()
    for fd in tuns:
        sel.register(fd, selectors.EVENT_READ)
    print("ready", flush=True)
    due = []  # (time, seq, fd, packet)
    seq = 0
    while True:
        timeout = None if not due else max(0.0, due[0][0] - time.monotonic())
        for key, _ in sel.select(timeout):
            while True:
                try:
                    packet = os.read(key.fd, 65535)
                except BlockingIOError:
                    break
                # IPv4 to 198.18.0.x only; anything else (IPv6 router solicitations) goes nowhere.
                if len(packet) < 20 or packet[0] >> 4 != 4 or packet[16:19] != b"\xc6\x12\x00":
                    continue
                out = by_last_octet.get(packet[19])
                if out is None or len(due) >= MAX_PENDING or random.random() * 100 < loss_pct:
                    continue
                start = time.monotonic()
                if rate_bps > 0:
                    start = max(start, free_at.get(out, 0.0))
                    if start - time.monotonic() > queue_s:
                        continue  # the bottleneck's queue is full: tail drop
                    start += len(packet) * 8 / rate_bps
                    free_at[out] = start
                wait = max(0.0, delay_ms + random.uniform(-jitter_ms, jitter_ms)) / 1000
                seq += 1
                heapq.heappush(due, (start + wait, seq, out, packet))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, fd, packet = heapq.heappop(due)
            try:
                os.write(fd, packet)
            except OSError:
                pass  # the host's queue is full or it is going away: the packet is lost


if __name__ == "__main__":
    main()
