# SPDX-License-Identifier: MIT
"""secure.py - the cells secure.* of run_tests.py: the Python binding against secured
nats-servers, with every connection option of the C library (issue 14): NKey seed file, .creds
file and the same credentials from memory, TLS with a private CA and an expected host name,
mutual TLS, and their error paths (wrong or damaged seed, expired or foreign creds, refused
client certificate, missing and unreadable files).

The servers and the material come from tests/security/lib.sh: run_lib.sh starts one server per
method and passes SEC_URL_<method>, SEC_PORT_<method> and SEC_M (the material directory). Every
exception, repr() and envelope below is checked against SEC_M/secrets (each password, seed,
user JWT and private-key line); run_lib.sh greps this process's output as well."""

import json
import os
import traceback
import urllib.request

from run_matrix import Failure, expect_eq

CELLS = ["nkey", "creds", "tls", "mtls"]


def _env(name):
    """SEC_<name>, set by run_lib.sh."""
    v = os.environ.get("SEC_" + name)
    if not v:
        raise Failure("SEC_%s is not set: run the secure.* cells through tests/security/run_lib.sh "
                      "(ctest -L python)" % name)
    return v


class Secured:
    """The fixture's servers and material, and the checks every cell makes."""

    def __init__(self, nb, run):
        self.nb = nb
        self.run = run  # run_tests.Run: the cell's directory, the CLI, background processes
        self.tmp = run.dir
        self.m = _env("M")
        with open(self.file("secrets")) as f:
            self.secrets = [line.rstrip("\n") for line in f if line.strip()]
        if len(self.secrets) < 20:
            raise Failure("the secrets list of %s is too short" % self.m)

    def file(self, name):
        return os.path.join(self.m, name)

    def url(self, method):
        return _env("URL_" + method)

    def tls_url(self, method):
        return "tls://127.0.0.1:" + _env("PORT_" + method)

    def https_fileserver(self):
        """The CLI's file server over HTTPS (the fixture's server certificate) wanting the
        fixture's token for uploads (from a file: not on a command line); returns its URL."""
        token = os.path.join(self.tmp, "fs-token")
        with open(token, "w") as f:
            f.write(_env("TOKEN") + "\n")
        p = self.run.background("fs-https", [
            self.run.args.nb, "fileserver", "--listen", "127.0.0.1:0", "--dir",
            os.path.join(self.tmp, "fs-https"), "--tls-cert", self.file("server.pem"),
            "--tls-key", self.file("server.key"), "--token-file", token, "--quiet"])
        self.run.wait_text("fs-https.out", "listening on https://", p)
        return self.run.read("fs-https.out").split("listening on ", 1)[1].split(" ", 1)[0]

    def clean(self, what, text):
        """Fails when text holds a secret (naming its line in the list, never the secret)."""
        for i, s in enumerate(self.secrets):
            if s in text:
                raise Failure("%s holds secret #%d of %s" % (what, i + 1, self.file("secrets")))

    def roundtrip(self, what, url, link=False, **kw):
        """A Client subscribes and smartsend (its own connection) sends, both with kw (the
        payload by link through the file server when link); the message arrives, and no repr
        or envelope holds a secret or a URL's userinfo."""
        nb = self.nb
        subject = "sec.py." + what
        with nb.Client(nats_url=url, connect_timeout=5, **kw) as c:
            sub = c.subscribe(subject)
            c.flush()
            sent = nb.smartsend(subject, [("w", "hello " + what, "text")], nats_url=url,
                                connect_timeout=5, link=["w"] if link else [], **kw)
            msg = sub.next_msg(10)
            expect_eq(what + ": received", msg.payloads[0][1], "hello " + what)
            expect_eq(what + ": transport", sent["payloads"][0]["transport"],
                      "link" if link else "direct")
            for label, text in (("repr(client)", repr(c)), ("vars(client)", repr(vars(c))),
                                ("repr(subscription)", repr(sub)),
                                ("the envelope sent", json.dumps(sent)),
                                ("the envelope received", json.dumps(msg.envelope, default=str)),
                                ("repr(message)", repr(msg))):
                self.clean("%s: %s" % (what, label), text)
            for env in (sent, msg.envelope):
                if "@" in env["broker_url"]:
                    raise Failure("%s: broker_url %r carries userinfo" % (what, env["broker_url"]))

    def refused(self, what, words, cls=None, send=False, link=False, **kw):
        """Client(**kw) (or smartsend with kw when send, by link when link) raises cls (by default
        ConnectionFailedError) whose message holds every word of words (case-insensitive);
        neither the message, its repr nor its printed traceback holds a secret. Returns the
        exception."""
        nb = self.nb
        cls = cls or nb.ConnectionFailedError
        try:
            if send:
                nb.smartsend("sec.py.refused", [("w", "x", "text")], connect_timeout=3,
                             link=["w"] if link else [], **kw)
            else:
                nb.Client(connect_timeout=3, **kw).close()
        except cls as e:
            text = str(e)
            missing = [w for w in words if w.lower() not in text.lower()]
            if missing:
                raise Failure("%s: the message %r does not name %s" % (what, text, missing))
            printed = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            for label, t in (("str", text), ("repr", repr(e)), ("args", repr(e.args)),
                             ("the traceback", printed)):
                self.clean("%s: the exception's %s" % (what, label), t)
            return e
        raise Failure("%s: no %s raised" % (what, cls.__name__))


def creds_parts(path):
    """The user JWT and the NKey seed of a .creds file: the line after each BEGIN line."""
    with open(path) as f:
        lines = f.read().splitlines()
    after = {lines[i]: lines[i + 1].strip() for i in range(len(lines) - 1)}
    jwt = next((v for k, v in after.items() if "BEGIN NATS USER JWT" in k), None)
    seed = next((v for k, v in after.items() if "BEGIN USER NKEY SEED" in k), None)
    if not jwt or not seed:
        raise Failure("%s holds no user JWT and seed" % path)
    return jwt, seed


def cell_nkey(s, nb):
    url = s.url("nkey")
    s.roundtrip("nkey", url, nkey_seed_file=s.file("nkey.seed"))
    s.refused("no credentials", ["authorization"], nats_url=url)
    s.refused("a seed the server does not know", ["nkey", "refused"], nats_url=url,
              nkey_seed_file=s.file("nkey-other.seed"))
    s.refused("smartsend with a seed the server does not know", ["nkey", "refused"], send=True,
              nats_url=url, nkey_seed_file=s.file("nkey-other.seed"))
    # Damaged: one character of the seed changed, so its checksum fails. The damaged seed is
    # as secret as the real one: the message must not repeat it either.
    with open(s.file("nkey.seed")) as f:
        seed = f.read().strip()
    damaged = seed[:20] + ("A" if seed[20] != "A" else "B") + seed[21:]
    bad = os.path.join(s.tmp, "damaged.seed")
    with open(bad, "w") as f:
        f.write(damaged + "\n")
    e = s.refused("a damaged seed", ["damaged.seed", "checksum"], nb.InvalidArgumentError,
                  nats_url=url, nkey_seed_file=bad)
    if damaged in str(e) or damaged[:20] in str(e):
        raise Failure("a damaged seed: the message repeats the seed: %s" % e)
    s.refused("a file with no seed (a certificate)", ["ca.pem", "no user seed"],
              nb.InvalidArgumentError, nats_url=url, nkey_seed_file=s.file("ca.pem"))
    s.refused("a missing seed file", ["no-such.seed", "cannot read"], nb.InvalidArgumentError,
              nats_url=url, nkey_seed_file=s.file("no-such.seed"))
    # Tests run as root, for whom no mode bit makes a file unreadable: a directory cannot be
    # read as a file by anyone.
    s.refused("an unreadable seed file (a directory)", ["not a regular file"],
              nb.InvalidArgumentError, nats_url=url, nkey_seed_file=s.m)
    s.refused("a seed and creds at once", ["exclude each other"], nb.InvalidArgumentError,
              nats_url=url, nkey_seed_file=s.file("nkey.seed"), creds_file=s.file("user.creds"))


def cell_creds(s, nb):
    url = s.url("operator")
    s.roundtrip("creds-file", url, creds_file=s.file("user.creds"))
    jwt, seed = creds_parts(s.file("user.creds"))
    s.roundtrip("creds-memory", url, creds_jwt=jwt, creds_seed=seed)
    # The production set-up (a natscli context's): TLS with a private CA plus a .creds file.
    s.roundtrip("creds-tls", s.tls_url("tlscreds"), creds_file=s.file("user.creds"),
                tls_ca_file=s.file("ca.pem"))
    s.refused("no credentials", ["authorization"], nats_url=url)
    s.refused("expired creds", ["creds", "refused"], nats_url=url,
              creds_file=s.file("expired.creds"))
    s.refused("creds of an account the operator never signed", ["creds", "refused"],
              nats_url=url, creds_file=s.file("stranger.creds"))
    s.refused("smartsend with expired creds", ["creds", "refused"], send=True, nats_url=url,
              creds_file=s.file("expired.creds"))
    with open(s.file("nkey.seed")) as f:
        other = f.read().strip()
    s.refused("a JWT with another user's seed", ["creds", "refused"], nats_url=url,
              creds_jwt=jwt, creds_seed=other)
    s.refused("a JWT that is not one", ["not a JWT"], nb.InvalidArgumentError, nats_url=url,
              creds_jwt="not-a-jwt", creds_seed=seed)
    s.refused("a seed that is not one", ["not a user NKey seed"], nb.InvalidArgumentError,
              nats_url=url, creds_jwt=jwt, creds_seed="SUnot-a-seed")
    s.refused("a creds file with no JWT (a seed file)", ["nkey.seed", "no user JWT"],
              nb.InvalidArgumentError, nats_url=url, creds_file=s.file("nkey.seed"))
    s.refused("a missing creds file", ["no-such.creds", "cannot read"], nb.InvalidArgumentError,
              nats_url=url, creds_file=s.file("no-such.creds"))
    s.refused("an unreadable creds file (a directory)", ["not a regular file"],
              nb.InvalidArgumentError, nats_url=url, creds_file=s.m)
    s.refused("creds as a file and from memory", ["both as a file and from memory"],
              nb.InvalidArgumentError, nats_url=url, creds_file=s.file("user.creds"),
              creds_jwt=jwt, creds_seed=seed)


def cell_tls(s, nb):
    url, tls = s.url("tls"), s.tls_url("tls")
    s.roundtrip("tls-ca", tls, tls_ca_file=s.file("ca.pem"))
    s.roundtrip("tls-hostname", url, tls_ca_file=s.file("ca.pem"), tls_hostname="localhost",
                tls_required=True)
    s.refused("a host name the certificate does not carry", ["TLS", "hostname"], nats_url=url,
              tls_ca_file=s.file("ca.pem"), tls_hostname="not-this-server.invalid")
    s.refused("no CA", ["certificate", "tls_ca_file"], nats_url=tls)
    s.refused("another CA", ["certificate", "CA"], nats_url=tls, tls_ca_file=s.file("ca2.pem"))
    s.refused("TLS required of a plain server", ["TLS"], nats_url=s.url("plain"),
              tls_required=True)
    s.refused("a missing CA file", ["no-such-ca.pem"], nb.InvalidArgumentError, nats_url=tls,
              tls_ca_file=s.file("no-such-ca.pem"))
    # The connection's name, as the server's monitoring shows it.
    with nb.Client(nats_url=s.url("plain"), connection_name="nbtest-py-name"):
        with urllib.request.urlopen(_env("MON_plain") + "/connz", timeout=5) as r:
            names = [c.get("name") for c in json.load(r)["connections"]]
        if "nbtest-py-name" not in names:
            raise Failure("connection_name: the server's /connz shows %s" % names)
    # The file server over HTTPS with a private CA and an upload token: a link round trip.
    fs = dict(nats_url=s.url("plain"), fileserver_url=s.https_fileserver())
    s.roundtrip("fs-https", fs["nats_url"], link=True, fileserver_url=fs["fileserver_url"],
                fileserver_ca_file=s.file("ca.pem"), fileserver_token=_env("TOKEN"))
    s.refused("an upload with a wrong token", ["HTTP 401"], nb.NatsBridgeError, send=True,
              link=True, fileserver_ca_file=s.file("ca.pem"), fileserver_token=_env("BAD_TOKEN"),
              **fs)
    s.refused("the file server's certificate of another CA", ["certificate could not be verified"],
              nb.NatsBridgeError, send=True, link=True, fileserver_ca_file=s.file("ca2.pem"),
              fileserver_token=_env("TOKEN"), **fs)
    s.clean("the file server's output", s.run.read("fs-https.out") + s.run.read("fs-https.err"))


def cell_mtls(s, nb):
    tls = s.tls_url("mtls")
    cert = dict(tls_ca_file=s.file("ca.pem"), tls_cert_file=s.file("client.pem"),
                tls_key_file=s.file("client.key"))
    s.roundtrip("mtls", tls, **cert)
    s.refused("no client certificate", ["client"], nats_url=tls, tls_ca_file=s.file("ca.pem"))
    s.refused("a client certificate of another CA", ["certificate"], nats_url=tls,
              tls_ca_file=s.file("ca.pem"), tls_cert_file=s.file("client2.pem"),
              tls_key_file=s.file("client2.key"))
    s.refused("smartsend with a client certificate of another CA", ["certificate"], send=True,
              nats_url=tls, tls_ca_file=s.file("ca.pem"), tls_cert_file=s.file("client2.pem"),
              tls_key_file=s.file("client2.key"))
    s.refused("a key that is not the certificate's", ["options were refused"],
              nb.InvalidArgumentError, nats_url=tls, tls_ca_file=s.file("ca.pem"),
              tls_cert_file=s.file("client.pem"), tls_key_file=s.file("client2.key"))
    s.refused("a certificate without its key", ["give both"], nb.InvalidArgumentError,
              nats_url=tls, tls_cert_file=s.file("client.pem"))
    s.refused("a missing key file", ["no-such.key", "cannot read"], nb.InvalidArgumentError,
              nats_url=tls, tls_cert_file=s.file("client.pem"), tls_key_file=s.file("no-such.key"))
    s.refused("an unreadable key file (a directory)", ["not a regular file"],
              nb.InvalidArgumentError, nats_url=tls, tls_cert_file=s.file("client.pem"),
              tls_key_file=s.m)
    # The file server's client certificate: the same pair, checked when given.
    s.refused("a file-server certificate without its key", ["needs both"],
              nb.InvalidArgumentError, nats_url=tls, fileserver_cert_file=s.file("client.pem"))
    s.refused("a missing file-server key", ["no-such-fs.key", "cannot read"],
              nb.InvalidArgumentError, nats_url=tls, fileserver_cert_file=s.file("client.pem"),
              fileserver_key_file=s.file("no-such-fs.key"))


def run_cell(name, nb, run):
    globals()["cell_" + name](Secured(nb, run), nb)
