#!/usr/bin/python3
"""tests/mta/haraka/nxdns.py [ADDR [PORT]] - a resolver that knows nothing.

Answers every DNS query over UDP with NXDOMAIN (RA set, the question
echoed, no records), at once.  Run inside the Haraka test namespace on
127.0.0.1:53 so that the namespace's lookups end there: nothing resolves
(mail_from.is_resolvable then refuses outside senders with 550, rather than
450 for a resolver error), and no query leaves the namespace.  Runs until
SIGTERM or SIGINT.  Standard library only.
"""
import signal
import socket
import sys


def answer(q):
    """The NXDOMAIN reply to query q, or None if q is not a query."""
    if len(q) < 12 or q[2] & 0x80:  # too short, or already a response
        return None
    qdcount = int.from_bytes(q[4:6], "big")
    end = 12
    if qdcount >= 1:  # echo the first question: name, type, class
        while end < len(q) and q[end] != 0:
            if q[end] & 0xC0:  # no compression in a question we accept
                return None
            end += 1 + q[end]
        end += 1 + 4
        if end > len(q):
            return None
    flags = 0x8000 | (q[2] & 0x79) << 8 | 0x0080 | 3  # QR, opcode, RD; RA; NXDOMAIN
    return (q[0:2] + flags.to_bytes(2, "big") + (1 if qdcount else 0).to_bytes(2, "big")
            + bytes(6) + q[12:end])


def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 53
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print(f"nxdns: listening on {addr}:{port}", flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        r = answer(q)
        if r is not None:
            s.sendto(r, peer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
