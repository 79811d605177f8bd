#!/usr/bin/python3
"""tests/mta/aiosmtpd_refuse.py --listen HOST:PORT [options]

A small aiosmtpd (Debian python3-aiosmtpd 1.4) Controller that refuses to
relay: handle_RCPT answers "550 5.7.1 Relaying denied" to every recipient
outside the local domains (--domain, default localhost) and "250 2.1.5 OK"
to the rest.  Every command is logged to stderr as aiosmtpd's -d does
(INFO:mail.log:... >> b'MAIL FROM:<...>'), so the tests can read what the
client sent; a message that reaches DATA is appended to --store (the
tests expect that file to stay empty) and answered "250 2.0.0 Stored".

Options:
  --listen HOST:PORT   address to listen on (required)
  --domain DOMAIN      a local domain (repeatable; default: localhost);
                       compared case-insensitively with what follows the
                       last @ of the recipient
  --hostname NAME      the name in the greeting and EHLO (default localhost,
                       as aiosmtpd's own on a host without an FQDN)
  --tlscert FILE, --tlskey FILE
                       offer STARTTLS with this chain and key
  --require-tls        530 to everything but EHLO/HELO/NOOP/QUIT/STARTTLS
                       until STARTTLS (aiosmtpd's require_starttls)
  --refuse-mail        answer every MAIL FROM, <> included, with
                       "550 5.7.1 Sender rejected"
  --store FILE         where accepted messages go (default: none kept;
                       the DATA is still logged)

Runs in the foreground until SIGTERM or SIGINT; use /usr/bin/python3 (not a
pyenv shim: start-up time).
"""
import argparse
import logging
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Refuser:
    def __init__(self, domains, refuse_mail, store):
        self.domains = {d.lower() for d in domains}
        self.refuse_mail = refuse_mail
        self.store = store

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_mail:
            return "550 5.7.1 Sender rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain not in self.domains:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        logging.getLogger("mail.log").warning(
            "DATA: message from %s to %s stored", envelope.mail_from, envelope.rcpt_tos)
        if self.store:
            with open(self.store, "ab") as f:
                f.write(b"From %s\n" % envelope.mail_from.encode("utf-8", "replace"))
                f.write(envelope.original_content or b"")
                f.write(b"\n")
        return "250 2.0.0 Stored"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--domain", action="append")
    ap.add_argument("--hostname", default="localhost")
    ap.add_argument("--tlscert")
    ap.add_argument("--tlskey")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--refuse-mail", action="store_true")
    ap.add_argument("--store")
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit():
        ap.error("--listen wants HOST:PORT")
    if bool(a.tlscert) != bool(a.tlskey):
        ap.error("--tlscert and --tlskey go together")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    kw = {}
    if a.tlscert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tlscert, a.tlskey)
        kw["tls_context"] = ctx
        kw["require_starttls"] = a.require_tls
    handler = Refuser(a.domain or ["localhost"], a.refuse_mail, a.store)
    ctl = Controller(handler, hostname=host.strip("[]"), port=int(port),
                     server_hostname=a.hostname, **kw)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ctl.start()
    logging.getLogger("mail.log").info("aiosmtpd_refuse: listening on %s", a.listen)
    while not stop.wait(3600):
        pass
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
