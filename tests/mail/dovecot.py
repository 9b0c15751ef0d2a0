"""A throw-away Dovecot IMAP server for tests: temp dir (not tmp_path: its 0700 parent locks out the auth
process), passwd-file user, free port, Maildir delivery. Skips on a developer machine without dovecot; CI fails."""
import grp
import imaplib
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI

USER, PASSWORD = "intake@test.local", "secret"

CONFIG = """base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
{identity}
first_valid_uid = 1
first_valid_gid = 1
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = home={d}/mail/%u
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self):
        binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
        if binary is None:
            if IN_CI:
                pytest.fail("dovecot is not installed in CI (.ci/run installs dovecot-imapd)")
            pytest.skip("dovecot not installed (apt-get install dovecot-imapd); CI runs this against a real Dovecot")
        self.dir = Path(tempfile.mkdtemp(prefix="bo-dovecot-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        if os.geteuid() == 0:
            identity = "mail_uid = dovecot\nmail_gid = dovecot"
        else:
            me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
            identity = (f"default_internal_user = {me}\ndefault_login_user = {me}\n"
                        f"default_internal_group = {group}")
        (self.dir / "mail").mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir / "mail", "dovecot", "dovecot")
        (self.dir / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(CONFIG.format(d=self.dir, port=self.port, identity=identity))
        self.process = subprocess.Popen([binary, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", self.port).logout()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    pytest.fail("dovecot did not start: " + self.log())
                time.sleep(0.05)

    def log(self):
        path = self.dir / "dovecot.log"
        return path.read_text()[-2000:] if path.exists() else "(no log)"

    def config(self):
        return {"MAIL_IMAP_HOST": "127.0.0.1", "MAIL_IMAP_PORT": self.port, "MAIL_IMAP_TLS": "none",
                "MAIL_IMAP_USER": USER, "MAIL_IMAP_PASSWORD": PASSWORD, "MAIL_IMAP_FOLDER": "INBOX",
                "MAIL_IMAP_PROCESSED_FOLDER": "Processed"}

    def imap(self):
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        conn.login(USER, PASSWORD)
        return conn

    def deliver(self, raw):
        """Append through IMAP (as an MTA's delivery would look to the poller)."""
        conn = self.imap()
        try:
            status, _ = conn.append("INBOX", None, imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", self.log()
        finally:
            conn.logout()

    def deliver_many(self, raws):
        """Drop messages straight into the Maildir (fast for floods); they show up as new in INBOX."""
        box = mailbox.Maildir(str(self.dir / "mail" / USER), create=True)
        for raw in raws:
            box.add(raw)
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(self.dir / "mail"):
                for name in dirs + files:
                    shutil.chown(os.path.join(root, name), "dovecot", "dovecot")

    def count(self, folder):
        conn = self.imap()
        try:
            status, data = conn.select(f'"{folder}"', readonly=True)
            return int(data[0]) if status == "OK" else 0
        finally:
            conn.logout()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
