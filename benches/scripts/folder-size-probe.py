#!/usr/bin/env python3
"""Where a big shared folder costs the server time (issue 22, item 3).

Times single IMAP commands against the private Dovecot of `cargo xtask dovecot`, in the
folders the bench keeps (`cargo xtask bench --keep`): `bench-shared-empty` (100 voicemails
of box 2001 alone) and `bench-shared-100k` (the same 100 among 100,000 e-mails). Raw
IMAP lines on one socket, commands one at a time, median of 21 runs each.

    python3 benches/scripts/folder-size-probe.py [target/imapvm-dovecot/server.json]

The second table times what a cold command's new session pays: each command after a fresh
LOGIN and SELECT, median of 7 sessions (a listing's fetch of the known rows with and without
RFC822.SIZE, and of an empty `$`).
"""
import json
import socket
import sys
import time

FOLDERS = ["bench-shared-empty", "bench-shared-100k"]
SEARCH = "HEADER X-Asterisk-VM-Extension 2001"
ROW = ("BODY.PEEK[HEADER.FIELDS (Date From Subject Message-ID X-Asterisk-VM-Message-Num "
       "X-Asterisk-VM-Context X-Asterisk-VM-Extension X-Asterisk-VM-Flag X-Asterisk-VM-Priority "
       "X-Asterisk-VM-Caller-ID-Num X-Asterisk-VM-Caller-ID-Name X-Asterisk-VM-Duration "
       "X-Asterisk-VM-Message-Type X-Asterisk-VM-Orig-date X-Asterisk-VM-Orig-time "
       "X-Asterisk-VM-Message-ID X-Asterisk-CallerID X-Asterisk-CallerIDName)]")


def new_session_ms(cfg, folder, commands):
    """Each command timed in its own new session (LOGIN, then SELECT (CONDSTORE), then it,
    after the untimed commands before it on its line), median of 7; the SELECT's own time
    under "SELECT (CONDSTORE)"."""
    times = {label: [] for label in ["SELECT (CONDSTORE)", *commands]}
    for label, command in commands.items():
        for _ in range(7):
            sock = socket.create_connection((cfg["host"], cfg["port"]))
            lines = sock.makefile("rb")
            lines.readline()

            def timed(tag, text):
                start = time.perf_counter()
                sock.sendall(f"{tag} {text}\r\n".encode())
                while not lines.readline().startswith(tag.encode() + b" "):
                    pass
                return (time.perf_counter() - start) * 1000

            timed("a", f"LOGIN vmshared {cfg['users']['vmshared']}")
            times["SELECT (CONDSTORE)"].append(timed("s", f"SELECT {folder} (CONDSTORE)"))
            *before, last = command.split("\n")
            for i, text in enumerate(before):
                timed(f"b{i}", text)
            times[label].append(timed("c", last))
            sock.close()
    return {label: sorted(t)[len(t) // 2] for label, t in times.items()}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "target/imapvm-dovecot/server.json"
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    sock = socket.create_connection((cfg["host"], cfg["port"]))
    lines = sock.makefile("rb")

    def until(tag):
        out = []
        while True:
            line = lines.readline()
            if not line:
                raise SystemExit("the server closed the connection")
            out.append(line)
            if line.startswith(tag.encode() + b" "):
                if b" OK " not in line:
                    raise SystemExit(line.decode(errors="replace"))
                return out

    def median_ms(command):
        times = []
        for _ in range(21):
            start = time.perf_counter()
            sock.sendall(f"t {command}\r\n".encode())
            until("t")
            times.append((time.perf_counter() - start) * 1000)
        return sorted(times)[10]

    lines.readline()
    sock.sendall(f"a LOGIN vmshared {cfg['users']['vmshared']}\r\n".encode())
    until("a")
    sock.sendall(b"e ENABLE CONDSTORE\r\n")
    until("e")
    print("| command | " + " | ".join(FOLDERS) + " |")
    print("|---|" + "---:|" * len(FOLDERS))
    rows = {}
    knowns = {}
    for folder in FOLDERS:
        sock.sendall(f"s SELECT {folder}\r\n".encode())
        until("s")
        sock.sendall(f"u UID SEARCH {SEARCH}\r\n".encode())
        found = [l for l in until("u") if l.startswith(b"* SEARCH")]
        uids = found[0].split()[2:] if found else []
        if len(uids) != 100:
            raise SystemExit(f"{folder}: {len(uids)} voicemails of box 2001, not 100")
        known = ",".join(u.decode() for u in uids)
        knowns[folder] = known
        tail = int(uids[-1]) + 1
        commands = {
            "NOOP": "NOOP",
            "UID FETCH (the 100 known) (FLAGS)": f"UID FETCH {known} (FLAGS)",
            "UID FETCH (the 100 known) (FLAGS) (CHANGEDSINCE)":
                f"UID FETCH {known} (FLAGS) (CHANGEDSINCE 99999999)",
            "UID SEARCH (the tail) HEADER": f"UID SEARCH UID {tail}:* {SEARCH}",
            "UID SEARCH (whole folder) HEADER": f"UID SEARCH {SEARCH}",
        }
        for label, command in commands.items():
            rows.setdefault(label, []).append(median_ms(command))
    for label, times in rows.items():
        print(f"| {label} | " + " | ".join(f"{t:.3f} ms" for t in times) + " |")
    print()
    print("| command in a new session | " + " | ".join(FOLDERS) + " |")
    print("|---|" + "---:|" * len(FOLDERS))
    fresh = {}
    for folder, known in knowns.items():
        commands = {
            "UID FETCH (the 100 known) (UID FLAGS row headers)": f"UID FETCH {known} (UID FLAGS {ROW})",
            "the same with RFC822.SIZE": f"UID FETCH {known} (UID FLAGS RFC822.SIZE {ROW})",
            "UID FETCH $ (UID FLAGS RFC822.SIZE), `$` empty":
                f"UID SEARCH RETURN (SAVE) UID 4294967295 {SEARCH}\nUID FETCH $ (UID FLAGS RFC822.SIZE)",
            "UID FETCH $ (UID FLAGS), `$` empty":
                f"UID SEARCH RETURN (SAVE) UID 4294967295 {SEARCH}\nUID FETCH $ (UID FLAGS)",
        }
        for label, ms in new_session_ms(cfg, folder, commands).items():
            fresh.setdefault(label, []).append(ms)
    for label, times in fresh.items():
        print(f"| {label} | " + " | ".join(f"{t:.3f} ms" for t in times) + " |")
    sock.sendall(b"z LOGOUT\r\n")


if __name__ == "__main__":
    main()
