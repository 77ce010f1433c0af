"""The Java peer (EchoPeer.java) from Python: built with build.sh, given a PKCS#12 keystore
and truststore made from the project's PEM certificates, started as a process on a free
loopback port.

Its identity is the hub's own key and certificate (kszws-hub), so that its replies verify
against the same certificate as the hub's; it trusts exactly the certificates it is given
(no CA), as the hub trusts exactly the registered ones."""
import subprocess
from pathlib import Path

from kszws.security import pki

HERE = Path(__file__).resolve().parent
ALIAS = "peer"
PASSWORD = "echo-peer"  # the stores live in a temporary folder for one run


def missing():
    """Why the peer cannot be built here (one line: the JDK or a jar is absent), or None."""
    done = subprocess.run(["sh", str(HERE / "build.sh"), "--check"], capture_output=True,
                          text=True, timeout=60)
    if done.returncode == 0:
        return None
    return done.stderr.strip() or "Java peer: build.sh --check failed"


def build(out):
    """Compile the peer into `out`; returns the jar's path."""
    done = subprocess.run(["sh", str(HERE / "build.sh"), str(out)], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("building the Java peer failed: %s" % (done.stderr or done.stdout))
    return Path(done.stdout.strip().splitlines()[-1])


def write_stores(certs_dir, out, identity="kszws-hub", trusted=("cpas-eupen",)):
    """keystore.p12 (the key and certificate of `identity`) and truststore.p12 (the
    certificates of `trusted`) in `out`, from certs_dir's PEM files."""
    out = Path(out)
    certs_dir = Path(certs_dir)
    pki.write_keystore(out / "keystore.p12", ALIAS, pki.read_key(certs_dir / ("%s.key" % identity)),
                       pki.read_cert(certs_dir / ("%s.crt" % identity)), [], PASSWORD)
    pki.write_truststore(out / "truststore.p12",
                         {name: pki.read_cert(certs_dir / ("%s.crt" % name)) for name in trusted},
                         PASSWORD)
    return out / "keystore.p12", out / "truststore.p12"


class JavaPeer:
    """The peer's JVM, started until it prints its ready line."""

    def __init__(self, jar, keystore, truststore, log):
        self.log = Path(log)  # the JVM's standard error: a pipe nobody reads would fill up
        self.args = ["java", "-jar", str(jar), "0", str(keystore), PASSWORD, ALIAS,
                     str(truststore), PASSWORD]
        self.proc = None
        self.url = None
        self.banner = None

    def start(self):
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=err, text=True)
        # The ready line comes once the JVM has loaded the keys and listens; nothing else is
        # printed on stdout, so a blocking read is bounded by the JVM's start or its exit.
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError("the Java peer did not start: %s%s" % (line, self.log.read_text()))
        self.banner = line.strip()
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
