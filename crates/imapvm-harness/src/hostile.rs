//! A small hostile IMAP server (plain TCP on 127.0.0.1, or TLS with a given certificate):
//! it behaves well enough to log in and select, then does one nasty thing. It is a script
//! of the harness's scripted IMAP server ([`crate::scripted`]) on the testkit's peer.

use std::sync::Arc;

use imapvm::Store;

use crate::scripted::{Command, Imap, Literal, Log, Script, usual};
use imapvm_testkit::{Peer, Reply};

/// The nasty thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nasty {
    /// Nothing: a well-behaved server (for TLS tests).
    None,
    /// An untagged line of 8 MiB (no CRLF for a long time) in answer to UID SEARCH.
    HugeLine,
    /// A FETCH literal announced as 4 GiB.
    HugeLiteral,
    /// A BODYSTRUCTURE nested 100,000 deep.
    DeepBodystructure,
    /// Tagged answers with a tag that was never sent.
    WrongTags,
    /// `* 99999 EXPUNGE` and `* 0 EXPUNGE` for messages that do not exist.
    PhantomExpunge,
    /// `* OK [UIDVALIDITY n]` with a new value in the middle of the session.
    UidValidityChange,
    /// Bytes that are not UTF-8 in untagged responses and header values.
    InvalidUtf8,
    /// NUL bytes in responses and header values.
    NulBytes,
    /// `* BYE` and a closed socket when the APPEND arrives.
    ByeDuringAppend,
    /// Accepts TCP and never greets.
    NeverGreets,
    /// Stops in the middle of the SELECT answer (socket stays open).
    StopsMidResponse,
    /// No LITERAL+; never sends `+` to the APPEND's synchronizing literal.
    NeverContinues,
    /// `LOGINDISABLED`, no SASL PLAIN.
    LoginDisabled,
    /// No LITERAL+; the APPEND gets `NO [OVERQUOTA]` instead of `+` (Dovecot's way).
    OverQuotaBeforeContinuation,
    /// The APPEND gets Cyrus's plain `NO Over quota`.
    CyrusOverQuota,
    /// The APPEND gets Courier's `NO [ALERT] ...`.
    CourierOverQuota,
}

/// A running hostile server: its port, and every command it received (literals shown as
/// their announcement). Dropping it stops it.
pub struct Hostile {
    peer: Peer,
    /// What it received.
    pub seen: Log,
}

impl Hostile {
    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.peer.port()
    }
}

/// A hostile server on 127.0.0.1.
pub async fn start(nasty: Nasty) -> Hostile {
    let seen = Log::default();
    let log = seen.clone();
    let peer = Peer::builder()
        .keep_at_most(KEEP)
        .respond(move || session(nasty, &log))
        .await
        .unwrap();
    Hostile { peer, seen }
}

/// Like [`start`], with implicit TLS using `config` (certificate tests); a refused
/// handshake is logged as `TLS refused: …`.
pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> Hostile {
    let seen = Log::default();
    let (log, refusals) = (seen.clone(), seen.clone());
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let peer = Peer::builder()
        .upgrade(move |tcp| {
            let (acceptor, refusals) = (acceptor.clone(), refusals.clone());
            async move {
                let tls = acceptor.accept(tcp).await;
                if let Err(e) = &tls {
                    refusals.push(format!("TLS refused: {e}"));
                }
                tls
            }
        })
        .respond(move || session(Nasty::None, &log))
        .await
        .unwrap();
    Hostile { peer, seen }
}

/// What the peer keeps of each connection's bytes: its own 8 MiB line is not counted in
/// the runtime's peak memory (`hostile::peak_memory_under_the_hostile_server_is_bounded`).
const KEEP: usize = 64 << 10;

const CAPS: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR NAMESPACE UIDPLUS LITERAL+";

/// One connection.
fn session(nasty: Nasty, log: &Log) -> Imap<HostileScript> {
    let caps = match nasty {
        Nasty::NeverContinues | Nasty::OverQuotaBeforeContinuation => {
            "IMAP4rev1 AUTH=PLAIN SASL-IR NAMESPACE UIDPLUS"
        }
        Nasty::LoginDisabled => "IMAP4rev1 LOGINDISABLED NAMESPACE",
        _ => CAPS,
    };
    let script = HostileScript {
        nasty,
        caps,
        uid_validity: 7,
        selects: 0,
        authenticating: None,
    };
    Imap::new(caps, log, script).greeting_text("hostile server ready")
}

/// A header block of box 1234@default (the identity the runtime filters on).
fn header_block(uid: u32, extra: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "X-Asterisk-VM-Extension: 1234\r\nX-Asterisk-VM-Context: default\r\n\
         X-Asterisk-VM-Message-Type: Message\r\nX-Asterisk-VM-Message-ID: hostile-{uid}\r\n"
    )
    .into_bytes();
    h.extend_from_slice(extra);
    h.extend_from_slice(b"\r\n");
    h
}

/// The script of one connection.
struct HostileScript {
    nasty: Nasty,
    caps: &'static str,
    uid_validity: u32,
    selects: u32,
    /// The tag of an AUTHENTICATE waiting for its response line.
    authenticating: Option<String>,
}

impl HostileScript {
    /// The answer to UID SEARCH: the nasty part first.
    fn search(&mut self, tag: &str) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        match self.nasty {
            Nasty::HugeLine => {
                // 8 MiB before the line ends.
                out.reserve(8 << 20);
                out.extend_from_slice(b"* SEARCH");
                for _ in 0..(4 << 20) {
                    out.extend_from_slice(b" 1");
                }
                out.extend_from_slice(b"\r\n");
            }
            Nasty::PhantomExpunge => {
                out.extend_from_slice(b"* 99999 EXPUNGE\r\n* 0 EXPUNGE\r\n* 4294967295 EXPUNGE\r\n")
            }
            Nasty::UidValidityChange => {
                self.uid_validity += 1;
                out.extend_from_slice(
                    format!("* OK [UIDVALIDITY {}] changed\r\n", self.uid_validity).as_bytes(),
                );
            }
            Nasty::InvalidUtf8 => {
                out.extend_from_slice(b"* OK [ALERT] \xff\xfe\xc0\xaf bad\r\n* BAD \xc3\x28\r\n")
            }
            Nasty::NulBytes => out.extend_from_slice(b"* OK hello\0\0world\r\n"),
            _ => {}
        }
        out.extend_from_slice(format!("* SEARCH 1 2 3\r\n{tag} OK done\r\n").as_bytes());
        out
    }

    /// The answer to UID FETCH: three header blocks, the nasty one first.
    fn fetch(&self, tag: &str) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for uid in 1..=3u32 {
            let extra: &[u8] = match self.nasty {
                Nasty::InvalidUtf8 => b"X-Asterisk-VM-Caller-ID-Name: \xff\xfe\xc0\r\n",
                Nasty::NulBytes => b"X-Asterisk-VM-Caller-ID-Name: a\0b\r\n",
                _ => b"",
            };
            let h = header_block(uid, extra);
            if self.nasty == Nasty::HugeLiteral && uid == 1 {
                out.extend_from_slice(
                    b"* 1 FETCH (UID 1 FLAGS () BODY[HEADER.FIELDS (X-Asterisk-VM-Extension)] {4294967296}\r\n",
                );
                out.extend_from_slice(&[b'x'; 4096]);
                break;
            }
            if self.nasty == Nasty::DeepBodystructure && uid == 1 {
                out.extend_from_slice(b"* 1 FETCH (UID 1 BODYSTRUCTURE ");
                out.extend(std::iter::repeat_n(b'(', 100_000));
                out.extend_from_slice(b"\"text\" \"plain\" NIL NIL NIL \"7bit\" 1");
                out.extend(std::iter::repeat_n(b')', 100_000));
                out.extend_from_slice(b")\r\n");
            }
            out.extend_from_slice(
                format!(
                    "* {uid} FETCH (UID {uid} FLAGS () RFC822.SIZE 100 BODY[HEADER.FIELDS (X)] {{{}}}\r\n",
                    h.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&h);
            out.extend_from_slice(b")\r\n");
        }
        out.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
        out
    }
}

impl Script for HostileScript {
    fn greeting(&mut self) -> Option<Reply> {
        (self.nasty == Nasty::NeverGreets).then(|| Reply::nothing().then_stall())
    }

    fn literal(&mut self, so_far: &Command, synchronising: bool) -> Option<Literal> {
        let tag = &so_far.tag;
        match self.nasty {
            Nasty::OverQuotaBeforeContinuation if synchronising => {
                Some(Literal::Instead(Reply::send(format!(
                    "{tag} NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n"
                ))))
            }
            Nasty::NeverContinues if synchronising => {
                Some(Literal::Instead(Reply::nothing().then_stall()))
            }
            _ => None,
        }
    }

    fn answer(&mut self, c: &Command) -> Option<Reply> {
        if let Some(tag) = self.authenticating.take() {
            // The response to the `+` of an AUTHENTICATE without an initial response.
            return Some(Reply::send(format!(
                "{tag} OK [CAPABILITY {}] logged in\r\n",
                self.caps
            )));
        }
        let nasty = self.nasty;
        let tag = if nasty == Nasty::WrongTags && self.selects > 0 {
            "ZZZ999".to_owned()
        } else {
            c.tag.clone()
        };
        let c = Command {
            tag: tag.clone(),
            ..c.clone()
        };
        Some(if c.is("AUTHENTICATE") && c.text.split(' ').count() < 3 {
            // No initial response: ask for it.
            self.authenticating = Some(tag);
            Reply::send("+ \r\n")
        } else if c.is("SELECT") || c.is("EXAMINE") {
            self.selects += 1;
            if nasty == Nasty::StopsMidResponse {
                return Some(Reply::send("* 3 EXI").then_stall());
            }
            Reply::send(format!(
                "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] v\r\n\
                 * OK [UIDNEXT 4] n\r\n* FLAGS (\\Seen \\Deleted \\Flagged)\r\n\
                 {tag} OK [READ-WRITE] selected\r\n",
                self.uid_validity
            ))
        } else if c.is("UID SEARCH") {
            Reply::send(self.search(&tag))
        } else if c.is("UID FETCH") {
            Reply::send(self.fetch(&tag))
        } else if c.is("APPEND") {
            match nasty {
                Nasty::CyrusOverQuota => Reply::send(format!("{tag} NO Over quota\r\n")),
                Nasty::CourierOverQuota => {
                    Reply::send(format!("{tag} NO [ALERT] Mail quota exceeded.\r\n"))
                }
                Nasty::ByeDuringAppend => Reply::send("* BYE going away now\r\n").then_close(),
                _ => Reply::send(format!(
                    "{tag} OK [APPENDUID {} 4] done\r\n",
                    self.uid_validity
                )),
            }
        } else if c.is("GETQUOTAROOT") {
            Reply::send(format!("* QUOTAROOT INBOX \"\"\r\n{tag} OK done\r\n"))
        } else {
            usual(self.caps, &c)
        })
    }
}

/// A voicemail.conf for box 1234@default on a plain loopback server (no Dovecot involved, so
/// a child process needs nothing else), with a fresh outbox.
pub fn plain_store(name: &str, port: u16) -> Store {
    let dir = crate::scratch_dir("imapvm-it-hostile", name);
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
             imapopentimeout=2\nimapreadtimeout=2\nimapwritetimeout=2\nimapclosetimeout=1\n\
             imapvm_outbox={}\n[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword=pw\n",
            dir.join("outbox").display()
        ),
    )
    .unwrap();
    Store::open(&conf).unwrap()
}
